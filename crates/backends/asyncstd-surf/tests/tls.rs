//! The https transport verifies certificates with rustls 0.23 against exactly the job's CA, for
//! an IP-address URL (the reason surf's own rustls 0.18 client is not used): an untrusted
//! certificate, or no CA at all, fails the handshake on the certificate — never on the name.
//! (Every run's CA has the same subject, so another run's CA is found as the issuer and its
//! signature does not match: `BadSignature`; with no CA the issuer is unknown.)

use crawlbench_asyncstd_surf::AsyncStdSurf;
use crawlbench_core::{Backend, CrawlJob, ErrorKind, Outcome};
use crawlbench_origin::{OriginConfig, RunningOrigin, SiteSpec, TlsKey};

fn start() -> RunningOrigin {
    RunningOrigin::start(
        SiteSpec {
            pages: 4,
            tls: Some(TlsKey::EcdsaP256),
            ..Default::default()
        },
        OriginConfig {
            threads: 1,
            ..Default::default()
        },
    )
    .expect("origin starts")
}

fn assert_certificate_rejected(job: &CrawlJob) {
    let report = AsyncStdSurf::new()
        .run(job)
        .expect("handshake failures are outcomes");
    assert_eq!(report.outcomes.len(), 4);
    for o in &report.outcomes {
        assert_eq!(o.outcome, Outcome::Error(ErrorKind::Tls), "{}", o.url);
        let detail = o.error_detail.as_deref().unwrap_or_default();
        assert!(
            detail.contains("invalid peer certificate"),
            "{}: not a certificate verification failure: {detail}",
            o.url
        );
    }
}

#[test]
fn another_runs_ca_is_rejected() {
    let (origin, other) = (start(), start());
    let job = CrawlJob::list(origin.site().list_urls(4).expect("pages"))
        .trust_ca_pem(other.site().ca_pem().expect("a CA"))
        .build()
        .expect("valid job");
    assert_certificate_rejected(&job);
}

#[test]
fn without_a_ca_nothing_is_trusted() {
    let origin = start();
    let job = CrawlJob::list(origin.site().list_urls(4).expect("pages"))
        .build()
        .expect("valid job");
    assert_certificate_rejected(&job);
}
