//! The `backend` Lambda function: the sample origin behind the protected HTTP API (payload 2.0).
//!
//! API Gateway invokes it only after the authorizer has admitted the request, so a visitor who sees its
//! page reached the API through CloudFront. It answers every route with the same small HTML page.
#![warn(clippy::all, rust_2018_idioms, missing_docs)]
#![forbid(unsafe_code)]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(handler)).await
}

/// Answers an HTTP API payload 2.0 event with the test page (200, `text/html`).
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let method = event.payload["requestContext"]["http"]["method"]
        .as_str()
        .unwrap_or("GET");
    let path = event.payload["rawPath"].as_str().unwrap_or("/");
    tracing::info!(request_id = %event.context.request_id, method, path, "serving the test page");
    Ok(json!({
        "statusCode": 200,
        "headers": { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
        "body": page(method, path),
    }))
}

/// The HTML page; the request's method and path are escaped, so they cannot inject markup.
fn page(method: &str, path: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>origin-verify</title></head>\n\
         <body><h1>origin-verify test page</h1>\n\
         <p>The authorizer admitted <code>{} {}</code>: this request came through CloudFront.</p>\n\
         </body></html>\n",
        escape(method),
        escape(path)
    )
}

/// Replaces the five HTML-special characters with entities.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_200_html_and_escapes_the_path() {
        let event = json!({ "rawPath": "/<b>&\"'", "requestContext": { "http": { "method": "POST" } } });
        let response = handler(LambdaEvent::new(event, Default::default()))
            .await
            .unwrap();
        assert_eq!(response["statusCode"], 200);
        assert_eq!(response["headers"]["content-type"], "text/html; charset=utf-8");
        let body = response["body"].as_str().unwrap();
        assert!(
            body.contains("<code>POST /&lt;b&gt;&amp;&quot;&#39;</code>"),
            "{body}"
        );
    }
}
