//! What the rotator needs from the templates: the IAM grants of `templates/protect-existing.yaml`, and how
//! both schedule rotations. The templates are read as text (the workspace has no YAML parser);
//! `scripts/check-template` lints and transforms them.

use std::path::PathBuf;

/// Reads `relative` from the workspace, or from `ORIGIN_VERIFY_TEST_TEMPLATE_ROOT` when set (to hold an
/// older revision's files to the same checks).
fn read(relative: &str) -> String {
    let root = std::env::var_os("ORIGIN_VERIFY_TEST_TEMPLATE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."));
    let path = root.join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of the template's `RotatorFunction` resource: up to the next line indented like it.
fn rotator_function(template: &str) -> String {
    let mut lines = template.lines().skip_while(|l| *l != "  RotatorFunction:");
    let first = lines.next().expect("a RotatorFunction resource");
    let body =
        lines.take_while(|l| !(l.starts_with("  ") && l[2..].starts_with(|c: char| c != ' ' && c != '#')));
    std::iter::once(first).chain(body).collect::<Vec<_>>().join("\n")
}

// Issue 12, item 8: UpdateDistribution on a distribution with Lambda@Edge associations needs
// lambda:GetFunction and lambda:EnableReplication* on the associated functions.
#[test]
fn protect_existing_can_grant_what_update_distribution_needs_for_lambda_edge() {
    let template = read("templates/protect-existing.yaml");
    let rotator = rotator_function(&template);
    for action in [
        "cloudfront:GetDistribution\n",
        "cloudfront:GetDistributionConfig",
        "cloudfront:UpdateDistribution",
    ] {
        assert!(
            rotator.contains(action),
            "RotatorFunction is not granted {action}"
        );
    }
    assert!(
        template.contains("\n  EdgeFunctionArns:\n    Type: CommaDelimitedList\n    Default: \"\""),
        "an optional EdgeFunctionArns parameter"
    );
    assert!(
        template.contains("HasEdgeFunctions: !Not [!Equals [!Join [\"\", !Ref EdgeFunctionArns], \"\"]]"),
        "a condition on it"
    );
    let grant = rotator
        .find("- HasEdgeFunctions")
        .map(|i| &rotator[i..])
        .expect("RotatorFunction has a statement under HasEdgeFunctions");
    let grant = &grant[..grant.find("AWS::NoValue").expect("and none without it")];
    assert!(
        grant.contains("lambda:GetFunction")
            && grant.contains("lambda:EnableReplication*")
            && grant.contains("Resource: !Ref EdgeFunctionArns"),
        "the conditional statement grants both actions on the functions: {grant}"
    );
    let deploy = read("docs/deploy.md");
    assert!(
        deploy.contains("`EdgeFunctionArns`") && deploy.contains("lambda:EnableReplication*"),
        "docs/deploy.md says when to set it"
    );
}

/// The lines of the template's `OriginVerifySecretRotation` resource.
fn rotation_schedule(template: &str) -> String {
    let mut lines = template
        .lines()
        .skip_while(|l| *l != "  OriginVerifySecretRotation:");
    let first = lines.next().expect("an OriginVerifySecretRotation resource");
    let body =
        lines.take_while(|l| !(l.starts_with("  ") && l[2..].starts_with(|c: char| c != ' ' && c != '#')));
    std::iter::once(first).chain(body).collect::<Vec<_>>().join("\n")
}

// Issue 12, item 9: a schedule change (and the stack's creation) tests the configuration through
// testSecret alone instead of rotating; docs/deploy.md says why.
#[test]
fn both_schedules_test_the_configuration_instead_of_rotating_on_update() {
    for template in ["template.yaml", "templates/protect-existing.yaml"] {
        let schedule = rotation_schedule(&read(template));
        assert!(
            schedule.contains("Type: AWS::SecretsManager::RotationSchedule")
                && schedule.contains("\n      RotateImmediatelyOnUpdate: false\n"),
            "{template}: {schedule}"
        );
    }
    let deploy = read("docs/deploy.md");
    assert!(
        deploy.contains("### Schedule changes test, they do not rotate")
            && deploy.contains("`RotateImmediatelyOnUpdate: false`"),
        "docs/deploy.md explains the choice"
    );
}

/// The value of `var` in the template's `RotatorFunction` environment.
fn rotator_env(template: &str, var: &str) -> Option<String> {
    let prefix = format!("          {var}: ");
    rotator_function(template)
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()).map(str::to_owned))
}

// Issue 13, item 3: without CLOUDFRONT_ORIGIN_IDS the rotator wrote every origin that sent a header of the
// same name; it now refuses to start without it, and both templates name the API's origin.
#[test]
fn both_templates_name_the_one_origin_the_rotator_writes() {
    let template = read("template.yaml");
    assert_eq!(
        rotator_env(&template, "CLOUDFRONT_ORIGIN_IDS").as_deref(),
        Some("HttpApi")
    );
    assert!(
        template.contains("        Origins:\n          - Id: HttpApi\n"),
        "the distribution's API origin has that id"
    );

    let existing = read("templates/protect-existing.yaml");
    assert_eq!(
        rotator_env(&existing, "CLOUDFRONT_ORIGIN_IDS").as_deref(),
        Some("!Ref ExistingOriginId")
    );
    let parameter = existing
        .split("\n  ExistingOriginId:\n")
        .nth(1)
        .expect("an ExistingOriginId parameter");
    let parameter = &parameter[..parameter.find("\n  O").unwrap_or(parameter.len())];
    assert!(
        parameter.contains("Type: String") && !parameter.contains("Default:"),
        "required (no default): {parameter}"
    );
    assert!(
        parameter.contains("AllowedPattern: '^[^,\\s]{1,128}$'"),
        "a pattern that keeps the id one entry of a comma-separated list: {parameter}"
    );
}
