//! The authorizer's answers, serialised straight from borrowed parts.

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

/// The `principalId` of every IAM policy this authorizer returns.
pub const PRINCIPAL_ID: &str = "cloudfront-origin";

/// What the handler returns to API Gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// HTTP API simple response: `{"isAuthorized": bool}`.
    Simple {
        /// Whether the request may pass.
        authorized: bool,
    },
    /// An IAM policy allowing or denying `execute-api:Invoke` on `resource`.
    Policy {
        /// Allow or Deny.
        allow: bool,
        /// The resource ARN (see [`policy_resource`]).
        resource: String,
    },
    /// For an event that could not be understood: a deny in both shapes at once, so that whichever one
    /// API Gateway reads, it reads a deny.
    DenyAnyShape,
}

impl Serialize for Response {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Response::Simple { authorized } => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("isAuthorized", authorized)?;
                map.end()
            }
            Response::Policy { allow, resource } => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("principalId", PRINCIPAL_ID)?;
                map.serialize_entry(
                    "policyDocument",
                    &PolicyDocument {
                        allow: *allow,
                        resource,
                    },
                )?;
                map.end()
            }
            Response::DenyAnyShape => {
                let mut map = s.serialize_map(Some(3))?;
                map.serialize_entry("isAuthorized", &false)?;
                map.serialize_entry("principalId", PRINCIPAL_ID)?;
                map.serialize_entry(
                    "policyDocument",
                    &PolicyDocument {
                        allow: false,
                        resource: "*",
                    },
                )?;
                map.end()
            }
        }
    }
}

struct PolicyDocument<'a> {
    allow: bool,
    resource: &'a str,
}

impl Serialize for PolicyDocument<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("Version", "2012-10-17")?;
        map.serialize_entry("Statement", &Statements(self))?;
        map.end()
    }
}

struct Statements<'a>(&'a PolicyDocument<'a>);

impl Serialize for Statements<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(1))?;
        seq.serialize_element(&Statement(self.0))?;
        seq.end()
    }
}

struct Statement<'a>(&'a PolicyDocument<'a>);

impl Serialize for Statement<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("Action", "execute-api:Invoke")?;
        map.serialize_entry("Effect", if self.0.allow { "Allow" } else { "Deny" })?;
        map.serialize_entry("Resource", self.0.resource)?;
        map.end()
    }
}

/// The resource a policy names: the whole API stage (`arn:…:api-id/stage/*`) derived from the method or
/// route ARN, because API Gateway caches the policy per header value and reuses it for every route: a
/// policy naming one method would make the cached answer a deny for all the others. The decision never
/// depends on the route, so the wider resource grants nothing more. An ARN of another shape is used as is;
/// no ARN at all gives `*`.
pub fn policy_resource(arn: Option<&str>) -> String {
    let Some(arn) = arn else { return "*".to_owned() };
    // arn:partition:execute-api:region:account:api-id/stage/verb/path...
    let resource_start = arn.match_indices(':').nth(4).map(|(i, _)| i + 1);
    let stage_end = resource_start.and_then(|start| {
        let mut slashes = arn[start..].match_indices('/').map(|(i, _)| start + i);
        let _api_end = slashes.next()?;
        Some(slashes.next().unwrap_or(arn.len()))
    });
    match stage_end {
        Some(end) if arn.starts_with("arn:") => {
            let mut resource = String::with_capacity(end + 2);
            resource.push_str(&arn[..end]);
            resource.push_str("/*");
            resource
        }
        _ => arn.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_resource_covers_the_stage() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request";
        assert_eq!(
            policy_resource(Some(arn)),
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*"
        );
        let route = "arn:aws:execute-api:us-east-1:123456789012:api/$default/*/*";
        assert_eq!(
            policy_resource(Some(route)),
            "arn:aws:execute-api:us-east-1:123456789012:api/$default/*"
        );
        assert_eq!(policy_resource(Some("odd")), "odd");
        assert_eq!(policy_resource(None), "*");
    }

    #[test]
    fn shapes_serialise_as_api_gateway_expects() {
        let simple = serde_json::to_value(Response::Simple { authorized: true }).unwrap();
        assert_eq!(simple, serde_json::json!({"isAuthorized": true}));
        let policy = serde_json::to_value(Response::Policy {
            allow: false,
            resource: "r".into(),
        })
        .unwrap();
        assert_eq!(
            policy,
            serde_json::json!({"principalId": PRINCIPAL_ID, "policyDocument": {"Version": "2012-10-17",
                "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "r"}]}})
        );
        let any = serde_json::to_value(Response::DenyAnyShape).unwrap();
        assert_eq!(any["isAuthorized"], false);
        assert_eq!(any["policyDocument"]["Statement"][0]["Effect"], "Deny");
    }
}
