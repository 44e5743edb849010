//! The answers: GetSecretValue's JSON for a version, Secrets Manager's error shape for a failure.

use std::time::SystemTime;

use hyper::StatusCode;
use origin_verify_extension::{Error, Found};
use serde::Serialize;

use crate::text;

/// GetSecretValue's response, field for field (the names Secrets Manager and AWS's agent use).
/// `CreatedDate` is a number of seconds since the epoch, as Secrets Manager sends it (AWS's agent sends
/// a string; README lists the difference).
#[derive(Serialize)]
struct SecretBody<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "VersionId")]
    version_id: &'a str,
    #[serde(rename = "SecretString", skip_serializing_if = "Option::is_none")]
    secret_string: Option<&'a str>,
    #[serde(rename = "SecretBinary", skip_serializing_if = "Option::is_none")]
    secret_binary: Option<String>,
    #[serde(rename = "VersionStages")]
    version_stages: &'a [String],
    #[serde(rename = "CreatedDate", skip_serializing_if = "Option::is_none")]
    created_date: Option<f64>,
}

/// The JSON body for a found version. It holds the secret: the caller sends it and drops it, and never
/// logs it.
pub fn secret_body(found: &Found) -> Vec<u8> {
    let version = &found.version;
    let body = SecretBody {
        arn: &found.arn,
        name: &found.name,
        version_id: &version.version_id,
        secret_string: version.string.as_deref().map(String::as_str),
        secret_binary: version
            .binary
            .as_deref()
            .map(|b| aws_smithy_types::base64::encode(b.as_slice())),
        version_stages: &found.stages,
        created_date: version.created.and_then(|t| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_millis() as f64 / 1000.0)
        }),
    };
    // Serializing strings and numbers into a Vec cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    kind: &'a str,
    message: &'a str,
}

/// Status and JSON body for a failure: Secrets Manager's own status, code and message when it answered
/// (as AWS's agent passes them on), otherwise ours. Never a secret value: errors hold none.
pub fn error_body(err: &Error) -> (StatusCode, Vec<u8>) {
    let (status, kind, message) = match err {
        Error::Loading(inner) => return error_body(inner),
        Error::SecretsManager {
            reply: Some(reply), ..
        } => (
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY),
            reply.code.clone(),
            reply.message.clone(),
        ),
        Error::SecretsManager { reply: None, .. } => (
            StatusCode::BAD_GATEWAY,
            text::CONNECTION_ERROR.to_owned(),
            err.to_string(),
        ),
        Error::StageNotFound { .. } => (
            StatusCode::BAD_REQUEST,
            text::RESOURCE_NOT_FOUND.to_owned(),
            err.to_string(),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            text::INTERNAL_FAILURE.to_owned(),
            err.to_string(),
        ),
    };
    let body = serde_json::to_vec(&ErrorBody {
        kind: &kind,
        message: &message,
    })
    .unwrap_or_default();
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use origin_verify_extension::{ErrorKind, ServiceReply, Version};
    use std::sync::Arc;
    use std::time::Duration;
    use zeroize::Zeroizing;

    #[test]
    fn a_version_is_answered_as_get_secret_value() {
        let found = Found {
            arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf".into(),
            name: "s".into(),
            stages: vec!["AWSCURRENT".into()],
            version: Arc::new(Version {
                version_id: "v1".into(),
                string: Some(Zeroizing::new("{\"k\":\"v\"}".into())),
                binary: None,
                created: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_569_534_789_046)),
            }),
        };
        let json: serde_json::Value = serde_json::from_slice(&secret_body(&found)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf",
                "Name": "s",
                "VersionId": "v1",
                "SecretString": "{\"k\":\"v\"}",
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1569534789.046
            })
        );
        let binary = Found {
            version: Arc::new(Version {
                version_id: "v2".into(),
                string: None,
                binary: Some(Zeroizing::new(vec![0, 1, 2, 250])),
                created: None,
            }),
            ..found
        };
        let json: serde_json::Value = serde_json::from_slice(&secret_body(&binary)).unwrap();
        assert_eq!(json["SecretBinary"], "AAEC+g==");
        assert!(json.get("SecretString").is_none() && json.get("CreatedDate").is_none());
    }

    #[test]
    fn errors_keep_secrets_manager_s_answer() {
        let err = Error::SecretsManager {
            operation: "DescribeSecret",
            secret_id: "s".into(),
            kind: ErrorKind::Permanent,
            message: "long transport text".into(),
            reply: Some(Box::new(ServiceReply {
                status: 400,
                code: "ResourceNotFoundException".into(),
                message: "Secrets Manager can't find the specified secret.".into(),
            })),
        };
        let (status, body) = error_body(&Error::Loading(Arc::new(err)));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."})
        );
        let (status, body) = error_body(&Error::StageNotFound {
            label: "AWSPENDING".into(),
        });
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            json["message"],
            "Secrets Manager can't find the specified secret value for staging label: AWSPENDING"
        );
        assert_eq!(error_body(&Error::NotLoaded).0, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
