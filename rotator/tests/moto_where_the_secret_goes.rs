//! Where the secret may go (issue 13, items 1 to 3), against moto and local origins: test requests follow
//! no redirect and prove that the URL checks the value (a random wrong value must be refused), and
//! CloudFront gets the value only on the origins the rotator protects, over HTTPS, pointing at the API.

mod common;

use common::*;
use origin_verify_rotator::Error;
use origin_verify_testkit::{
    create_distribution_with, current_version, origin_headers, Accepts, CannedOrigin, OriginSpec,
};

/// A value another stack (or a third party) sends under the same header name.
const FOREIGN: &str = "ForeignValue0123456789abcdefABCD";

/// Asserts that neither distribution of the fixture was written: every origin still sends OLD.
async fn cloudfront_untouched(f: &Fixture) {
    for (distribution, origin) in f.header_senders() {
        assert_eq!(
            f.header_on(distribution, origin).await.as_deref(),
            Some(OLD),
            "{distribution}/{origin} was written"
        );
    }
}

// Item 1: reqwest followed redirects and kept the custom header across hosts; whoever the origin redirects
// to (an identity provider, a mistyped URL's target) received AWSPENDING, and its 200 passed the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirecting_origin_fails_set_secret_and_the_collector_receives_nothing() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let collector = CannedOrigin::spawn(200).await;
    let redirecting = CannedOrigin::redirecting_to(&collector.url).await;
    let token = f.stage().await;
    let rotator = f.rotator(&[("ORIGIN_TEST_URLS", redirecting.url.as_str())]);
    rotator.run("createSecret", &f.secret, &token).await.unwrap();
    rotator.take_calls();

    let err = rotator
        .run("setSecret", &f.secret, &token)
        .await
        .expect_err("setSecret passed through a redirect");
    assert_eq!(collector.requests(), 0, "the redirect's target received requests");
    assert!(redirecting.requests() >= 1, "the origin was asked");
    let pending = origin_verify_testkit::stage_value(&f.sm, &f.secret, PENDING)
        .await
        .unwrap();
    assert!(
        !redirecting.received_value(&pending),
        "the value went to a URL that redirects"
    );
    assert!(
        matches!(&err, Error::Probe { .. }) && err.to_string().contains("redirect"),
        "the message says a redirect failed the test: {err}"
    );
    let calls = rotator.take_calls();
    assert!(writes(&calls).is_empty(), "{calls:?}");
    cloudfront_untouched(&f).await;
}

// Item 2: a URL that answers 200 whatever the header says (a route without the authorizer, a CloudFront
// URL that overwrites the header) proves nothing about the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_answers_200_to_everything_fails_set_secret_before_cloudfront() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let open = CannedOrigin::spawn(200).await;
    let token = f.stage().await;
    let rotator = f.rotator(&[("ORIGIN_TEST_URLS", open.url.as_str())]);
    rotator.run("createSecret", &f.secret, &token).await.unwrap();
    rotator.take_calls();

    let err = rotator
        .run("setSecret", &f.secret, &token)
        .await
        .expect_err("setSecret passed on a URL that admits anything");
    assert!(
        err.to_string()
            .contains("answered 200 to a wrong value: the URL is not protected by the authorizer"),
        "{err}"
    );
    // The wrong value goes first: an unprotected URL never gets the real one, and is not asked again.
    assert_eq!(open.requests(), 1, "one request, with the wrong value");
    let pending = origin_verify_testkit::stage_value(&f.sm, &f.secret, PENDING)
        .await
        .unwrap();
    assert!(
        !open.received_value(&pending),
        "the value went to an unprotected URL"
    );
    let calls = rotator.take_calls();
    assert!(writes(&calls).is_empty(), "{calls:?}");
    cloudfront_untouched(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_that_answers_200_to_everything_fails_test_secret() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let open = CannedOrigin::spawn(200).await;
    let old_version = current_version(&f.sm, &f.secret).await;
    let token = f.stage().await;
    for step in ["createSecret", "setSecret"] {
        f.rotator(&[]).run(step, &f.secret, &token).await.unwrap();
    }
    let rotator = f.rotator(&[("ORIGIN_TEST_URLS", open.url.as_str())]);
    let err = rotator
        .run("testSecret", &f.secret, &token)
        .await
        .expect_err("testSecret passed on a URL that admits anything");
    assert!(err.to_string().contains("answered 200 to a wrong value"), "{err}");
    assert_eq!(f.labels(&old_version).await, [CURRENT], "AWSCURRENT moved");
}

// Item 2, RotateImmediately=false: testSecret alone on an empty AWSPENDING version checks the configuration;
// an unprotected test URL is a configuration error it must report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_check_fails_on_an_origin_that_answers_200_to_everything() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let open = CannedOrigin::spawn(200).await;
    let temporary = f.stage().await;
    let rotator = f.rotator(&[("ORIGIN_TEST_URLS", open.url.as_str())]);
    let err = rotator
        .run("testSecret", &f.secret, &temporary)
        .await
        .expect_err("the configuration check passed on a URL that admits anything");
    assert!(err.to_string().contains("answered 200 to a wrong value"), "{err}");
    let calls = rotator.take_calls();
    assert!(writes(&calls).is_empty(), "{calls:?}");
}

/// A distribution with `origins`, created for one test.
async fn distribution(f: &Fixture, origins: &[OriginSpec<'_>]) -> String {
    create_distribution_with(&f.cf, origins).await
}

// Item 3: with the origin ids unset, every origin that sent a header of that name got the value: another
// stack's API behind the same distribution, or a third party.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_with_the_same_header_stays_byte_identical_after_a_full_rotation() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let d3 = distribution(
        &f,
        &[
            api_origin(D1_ORIGIN, &[(HEADER, OLD)]),
            OriginSpec {
                id: "foreign",
                domain: "foreign.example.com",
                port: 443,
                protocol: "https-only",
                headers: &[("X-Origin-Verify", FOREIGN), ("x-theirs", "keep")],
            },
        ],
    )
    .await;
    let foreign_before = origin_headers(&f.cf, &d3, "foreign").await;
    let token = f.stage().await;
    let rotator = f.rotator(&[("CLOUDFRONT_DISTRIBUTION_IDS", d3.as_str())]);
    for step in STEPS {
        rotator
            .run(step, &f.secret, &token)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    assert!(
        origin_headers(&f.cf, &d3, "foreign").await == foreign_before,
        "the foreign origin's headers changed"
    );
    let new = origin_verify_testkit::stage_value(&f.sm, &f.secret, CURRENT)
        .await
        .unwrap();
    assert!(
        origin_headers(&f.cf, &d3, D1_ORIGIN).await == [(HEADER.to_owned(), new)],
        "the protected origin sends the new value"
    );
}

/// Runs createSecret and setSecret against a one-origin distribution `api` built from `spec`, with the
/// origin id configured; returns the error setSecret must fail with, after checking nothing was written.
async fn set_secret_refuses(spec: OriginSpec<'_>) -> (Fixture, String, Error) {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let d3 = distribution(&f, &[spec]).await;
    let token = f.stage().await;
    let rotator = f.rotator(&[
        ("CLOUDFRONT_DISTRIBUTION_IDS", d3.as_str()),
        ("CLOUDFRONT_ORIGIN_IDS", spec.id),
    ]);
    rotator.run("createSecret", &f.secret, &token).await.unwrap();
    rotator.take_calls();
    let err = rotator
        .run("setSecret", &f.secret, &token)
        .await
        .expect_err("setSecret wrote the value to an origin it must refuse");
    let calls = rotator.take_calls();
    assert!(writes(&calls).is_empty(), "{calls:?}");
    assert!(
        !calls.contains(&HTTP_GET),
        "refused before any request carried the value: {calls:?}"
    );
    assert_eq!(
        origin_headers(&f.cf, &d3, spec.id).await,
        [(HEADER.to_owned(), OLD.to_owned())],
        "the refused origin was written"
    );
    let message = err.to_string();
    assert!(
        message.contains(&d3) && message.contains(spec.id),
        "the error names the distribution and the origin: {message}"
    );
    (f, d3, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_only_origin_with_the_header_is_refused() {
    let (_f, _d3, err) = set_secret_refuses(OriginSpec {
        id: D1_ORIGIN,
        domain: API_HOST,
        port: 80,
        protocol: "http-only",
        headers: &[(HEADER, OLD)],
    })
    .await;
    assert!(err.to_string().contains("https-only"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_pointing_at_another_domain_is_refused() {
    let (_f, _d3, err) = set_secret_refuses(OriginSpec {
        id: D1_ORIGIN,
        domain: "elsewhere.example.com",
        port: 443,
        protocol: "https-only",
        headers: &[(HEADER, OLD)],
    })
    .await;
    assert!(err.to_string().contains("elsewhere.example.com"), "{err}");
}

// Item 2, the one exception: right after `templates/protect-existing.yaml` is created, Secrets Manager tests
// the configuration before the routes require the header (docs/deploy.md, steps 2 and 3 follow the stack).
// No origin sends the header yet; the check logs instead of failing the stack, and the current value is
// not sent to the URL that admitted a wrong one. setSecret still refuses that URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_the_setup_is_finished_the_configuration_check_warns_and_sends_no_value_there() {
    let f = Fixture::new(Accepts::CurrentAndPending).await;
    let open = CannedOrigin::spawn(200).await;
    let d3 = distribution(&f, &[api_origin(D1_ORIGIN, &[])]).await;
    let overrides = [
        ("ORIGIN_TEST_URLS", open.url.as_str()),
        ("CLOUDFRONT_DISTRIBUTION_IDS", d3.as_str()),
    ];
    let temporary = f.stage().await;
    let rotator = f.rotator(&overrides);
    assert_eq!(
        rotator.run("testSecret", &f.secret, &temporary).await.unwrap(),
        origin_verify_rotator::Outcome::ConfigurationChecked
    );
    assert_eq!(open.requests(), 1, "only the wrong value was sent");
    assert!(
        !open.received_value(OLD),
        "AWSCURRENT went to a URL that admits anything"
    );
    let calls = rotator.take_calls();
    assert!(writes(&calls).is_empty(), "{calls:?}");

    f.sm.update_secret_version_stage()
        .secret_id(&f.secret)
        .version_stage(PENDING)
        .remove_from_version_id(&temporary)
        .send()
        .await
        .expect("UpdateSecretVersionStage");
    let token = f.stage().await;
    rotator.run("createSecret", &f.secret, &token).await.unwrap();
    let err = rotator.run("setSecret", &f.secret, &token).await.unwrap_err();
    assert!(err.to_string().contains("answered 200 to a wrong value"), "{err}");
    assert!(
        origin_headers(&f.cf, &d3, D1_ORIGIN).await.is_empty(),
        "nothing written"
    );
}
