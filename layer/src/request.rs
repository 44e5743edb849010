//! What a request asks for, checked in the order AWS's Secrets Manager Agent checks it (so the same
//! mistakes get the same answers): `/ping` first (no token), then `X-Forwarded-For`, the token, the
//! method, the path, and the parameters.

use hyper::header::HeaderMap;
use hyper::{Method, StatusCode, Uri};

use crate::text;
use crate::token::Token;

/// The headers a caller may put the token in (AWS's extension documents the first; AWS's agent also
/// takes the second).
pub const TOKEN_HEADERS: [&str; 2] = ["x-aws-parameters-secrets-token", "x-vault-token"];
/// The query-style path.
pub const GET_PATH: &str = "/secretsmanager/get";
/// The prefix of the path-style form, `/v1/<secret id>` (AWS's agent).
pub const PATH_PREFIX: &str = "/v1/";
/// The health check, answered without a token.
pub const PING_PATH: &str = "/ping";

/// A request the layer will answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `GET /ping`.
    Ping,
    /// A secret's version.
    Get(GetSecret),
}

/// `GET /secretsmanager/get?secretId=…` or `GET /v1/<secret id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetSecret {
    /// `secretId`: name or ARN, exactly as given (a name and an ARN are cached apart, as by AWS's agent).
    pub secret_id: String,
    /// `versionId`.
    pub version_id: Option<String>,
    /// `versionStage`.
    pub version_stage: Option<String>,
    /// `refreshNow=true`.
    pub refresh_now: bool,
}

/// A request refused before any secret is looked at: status and plain-text body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body (from [`text`]).
    pub body: String,
}

impl Refusal {
    fn new(status: StatusCode, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }
}

/// Checks a request and says what it asks for.
pub fn parse(method: &Method, uri: &Uri, headers: &HeaderMap, token: &Token) -> Result<Call, Refusal> {
    let path = uri.path();
    if path != PING_PATH {
        if headers.contains_key("x-forwarded-for") {
            return Err(Refusal::new(StatusCode::BAD_REQUEST, text::FORWARDED));
        }
        let presented = TOKEN_HEADERS
            .iter()
            .filter_map(|name| headers.get(*name))
            .any(|value| token.matches(value.as_bytes()));
        if !presented {
            return Err(Refusal::new(StatusCode::FORBIDDEN, text::BAD_TOKEN));
        }
    }
    if method != Method::GET {
        return Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, text::NOT_ALLOWED));
    }
    let query = uri.query().unwrap_or("");
    if path == PING_PATH {
        return Ok(Call::Ping);
    }
    if path == GET_PATH {
        let mut params = parameters(query, &["secretId", "versionId", "versionStage", "refreshNow"])?;
        let secret_id = params
            .remove("secretId")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Refusal::new(StatusCode::BAD_REQUEST, text::MISSING_SECRET_ID))?;
        return get_secret(secret_id, params);
    }
    if let Some(id) = path.strip_prefix(PATH_PREFIX) {
        let params = parameters(query, &["versionId", "versionStage", "refreshNow"])?;
        let secret_id = percent_decode(id);
        if secret_id.is_empty() {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                text::MISSING_PATH_SECRET_ID,
            ));
        }
        return get_secret(secret_id, params);
    }
    Err(Refusal::new(StatusCode::NOT_FOUND, text::NOT_FOUND))
}

fn get_secret(
    secret_id: String,
    mut params: std::collections::HashMap<String, String>,
) -> Result<Call, Refusal> {
    let refresh_now = match params
        .remove("refreshNow")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false" | "0") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(Refusal::new(StatusCode::BAD_REQUEST, text::INVALID_REFRESH_NOW)),
    };
    Ok(Call::Get(GetSecret {
        secret_id,
        // Empty means absent, as for AWS's agent (the SDK drops an empty string).
        version_id: params.remove("versionId").filter(|v| !v.is_empty()),
        version_stage: params.remove("versionStage").filter(|v| !v.is_empty()),
        refresh_now,
    }))
}

/// The query's parameters (form-urlencoded, as AWS's agent reads them: `+` is a space), each at most
/// once, each one of `known`.
fn parameters(query: &str, known: &[&str]) -> Result<std::collections::HashMap<String, String>, Refusal> {
    let mut params = std::collections::HashMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if !known.contains(&key.as_ref()) {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("{}{key}", text::UNKNOWN_PARAMETER),
            ));
        }
        if params.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("{}{key}", text::DUPLICATE_PARAMETER),
            ));
        }
    }
    Ok(params)
}

/// A path segment with its `%XX` escapes decoded (names may hold `/`, `+`, `=`, `@`).
fn percent_decode(s: &str) -> String {
    // form_urlencoded decodes %XX too; a path keeps `+` literally, so escape it first.
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "the-session-token";

    fn call(method: Method, uri: &str, headers: &[(&str, &str)]) -> Result<Call, Refusal> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        parse(
            &method,
            &uri.parse().unwrap(),
            &map,
            &Token::new(TOKEN.to_owned()),
        )
    }

    fn get(uri: &str) -> Result<Call, Refusal> {
        call(Method::GET, uri, &[("X-Aws-Parameters-Secrets-Token", TOKEN)])
    }

    fn refused(result: Result<Call, Refusal>) -> (u16, String) {
        let r = result.expect_err("refused");
        (r.status.as_u16(), r.body)
    }

    #[test]
    fn every_request_shape_is_read() {
        let want = |id: &str, vid: Option<&str>, stage: Option<&str>, now: bool| {
            Ok(Call::Get(GetSecret {
                secret_id: id.to_owned(),
                version_id: vid.map(str::to_owned),
                version_stage: stage.map(str::to_owned),
                refresh_now: now,
            }))
        };
        assert_eq!(
            get("/secretsmanager/get?secretId=s"),
            want("s", None, None, false)
        );
        assert_eq!(
            get("/secretsmanager/get?secretId=s&versionStage=AWSPENDING"),
            want("s", None, Some("AWSPENDING"), false)
        );
        assert_eq!(
            get("/secretsmanager/get?secretId=s&versionId=v1&refreshNow=TRUE"),
            want("s", Some("v1"), None, true)
        );
        assert_eq!(
            get("/secretsmanager/get?secretId=arn%3Aaws%3Asecretsmanager%3Aus-east-1%3A1%3Asecret%3Aa%2Fb&refreshNow=0"),
            want("arn:aws:secretsmanager:us-east-1:1:secret:a/b", None, None, false)
        );
        assert_eq!(
            get("/v1/team/a+b%40c?versionStage=AWSCURRENT"),
            want("team/a+b@c", None, Some("AWSCURRENT"), false)
        );
        assert_eq!(
            call(
                Method::GET,
                "/secretsmanager/get?secretId=s",
                &[("X-Vault-Token", TOKEN)]
            ),
            want("s", None, None, false)
        );
        assert_eq!(call(Method::GET, "/ping", &[]), Ok(Call::Ping));
    }

    #[test]
    fn refusals_are_those_of_aws_s_agent() {
        let no_token = call(Method::GET, "/secretsmanager/get?secretId=s", &[]);
        assert_eq!(refused(no_token), (403, text::BAD_TOKEN.to_owned()));
        let wrong = call(
            Method::GET,
            "/secretsmanager/get?secretId=s",
            &[("X-Aws-Parameters-Secrets-Token", "the-session-toke")],
        );
        assert_eq!(refused(wrong).0, 403);
        let forwarded = call(
            Method::GET,
            "/secretsmanager/get?secretId=s",
            &[
                ("X-Aws-Parameters-Secrets-Token", TOKEN),
                ("X-Forwarded-For", "10.0.0.1"),
            ],
        );
        assert_eq!(refused(forwarded), (400, text::FORWARDED.to_owned()));
        let post = call(
            Method::POST,
            "/secretsmanager/get?secretId=s",
            &[("X-Aws-Parameters-Secrets-Token", TOKEN)],
        );
        assert_eq!(refused(post), (405, text::NOT_ALLOWED.to_owned()));
        assert_eq!(refused(call(Method::POST, "/ping", &[])).0, 405);
        assert_eq!(
            refused(call(Method::POST, "/secretsmanager/get", &[])).0,
            403,
            "the token is checked first"
        );
        assert_eq!(
            refused(get("/systemsmanager/parameters/get?name=p")),
            (404, text::NOT_FOUND.to_owned())
        );
        assert_eq!(
            refused(get("/secretsmanager/get")),
            (400, text::MISSING_SECRET_ID.to_owned())
        );
        assert_eq!(refused(get("/secretsmanager/get?secretId=")).0, 400);
        assert_eq!(
            refused(get("/v1/")),
            (400, text::MISSING_PATH_SECRET_ID.to_owned())
        );
        assert_eq!(
            refused(get("/secretsmanager/get?secretId=s&versionstage=AWSCURRENT")),
            (400, format!("{}versionstage", text::UNKNOWN_PARAMETER))
        );
        assert_eq!(
            refused(get("/v1/s?secretId=t")).0,
            400,
            "path style takes no secretId"
        );
        assert_eq!(
            refused(get("/secretsmanager/get?secretId=s&secretId=t")),
            (400, format!("{}secretId", text::DUPLICATE_PARAMETER))
        );
        assert_eq!(
            refused(get("/secretsmanager/get?secretId=s&refreshNow=yes")),
            (400, text::INVALID_REFRESH_NOW.to_owned())
        );
    }
}
