//! The straightforward handler a first version would be: the community event types
//! (`aws_lambda_events`), `String ==` against both values, the community response types.
//! It makes the same decisions as ours, `identitySource` included (the response differs in shape only:
//! arrays for Action and Resource, null context); it is the baseline the full-handler ratio uses.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV1Request,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use origin_verify_authorizer::policy_resource;
use origin_verify_testkit::EventKind;

/// Raw event → response bytes, the plain way.
pub fn handle(kind: EventKind, bytes: &[u8], current: &str, pending: &str) -> Vec<u8> {
    let matches = |v: Option<&str>| v.is_some_and(|v| v == current || v == pending);
    match kind {
        EventKind::HttpV2 => {
            let req: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_slice(bytes).expect("v2 event");
            let value = req.headers.get("x-origin-verify").and_then(|v| v.to_str().ok());
            let identity_is_value = match req.identity_source.as_deref() {
                Some([only]) => Some(only.as_str()) == value,
                Some(_) => false,
                None => true,
            };
            let mut res: ApiGatewayV2CustomAuthorizerSimpleResponse<()> = Default::default();
            res.is_authorized = identity_is_value && matches(value);
            serde_json::to_vec(&res).expect("bytes")
        }
        EventKind::HttpV1 => {
            let req: ApiGatewayV2CustomAuthorizerV1Request = serde_json::from_slice(bytes).expect("v1 event");
            let value = req.headers.get("x-origin-verify").and_then(|v| v.to_str().ok());
            let identity_is_value = req.identity_source.is_none() || req.identity_source.as_deref() == value;
            policy(identity_is_value && matches(value), req.method_arn.as_deref())
        }
        EventKind::RestRequest => {
            let req: ApiGatewayCustomAuthorizerRequestTypeRequest =
                serde_json::from_slice(bytes).expect("REST event");
            let value = req.headers.get("x-origin-verify").and_then(|v| v.to_str().ok());
            policy(matches(value), req.method_arn.as_deref())
        }
        EventKind::RestToken => {
            let req: ApiGatewayCustomAuthorizerRequest = serde_json::from_slice(bytes).expect("TOKEN event");
            policy(
                matches(req.authorization_token.as_deref()),
                req.method_arn.as_deref(),
            )
        }
    }
}

fn policy(allow: bool, arn: Option<&str>) -> Vec<u8> {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = if allow {
        IamPolicyEffect::Allow
    } else {
        IamPolicyEffect::Deny
    };
    statement.resource = vec![policy_resource(arn)];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_owned());
    document.statement = vec![statement];
    let mut res: ApiGatewayCustomAuthorizerResponse<()> = Default::default();
    res.principal_id = Some(origin_verify_authorizer::response::PRINCIPAL_ID.to_owned());
    res.policy_document = document;
    serde_json::to_vec(&res).expect("bytes")
}
