//! HTTPS for the origin: a certificate authority made for each run, a server certificate it
//! signs, and the rustls server configuration that offers `h2` and `http/1.1` by ALPN.
//!
//! The CA certificate (PEM) is what every backend is handed as its only trusted root — no
//! backend turns verification off. A fresh CA per run means no key ever outlives the process
//! that made it, and a backend given another run's CA fails every handshake (which the
//! conformance suite checks).
//!
//! Session resumption is off (no tickets, no cache): every new connection is a full handshake,
//! whichever client makes it, as for Python's `requests.get` without a session.
//!
//! The origin counts completed handshakes and the CPU its threads spend inside them
//! (`CpuTimed`): thread CPU time (`CLOCK_THREAD_CPUTIME_ID`) around every poll of the
//! handshake future, because a handshake is interleaved with other connections' work on the same
//! threads and a wall clock would count that too.

use std::{
    future::Future,
    io,
    net::IpAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::network::TlsKey;

/// A run's TLS material: the CA to trust and the server's configuration.
#[derive(Debug)]
pub struct TlsMaterial {
    /// The CA certificate, PEM: the trusted root to hand to clients.
    pub ca_pem: String,
    /// The server configuration (certificate chain, key, ALPN `h2`, `http/1.1`).
    pub server: Arc<rustls::ServerConfig>,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("issuing the origin's TLS certificate failed: {e}"))
}

/// A key pair of `kind`. ring cannot generate RSA keys, so RSA-2048 is generated with the `rsa`
/// crate and handed to rcgen (which signs with ring) as PKCS#8.
fn key_pair(kind: TlsKey) -> io::Result<KeyPair> {
    match kind {
        TlsKey::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(other),
        TlsKey::Rsa2048 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).map_err(other)?;
            let der = key.to_pkcs8_der().map_err(other)?;
            KeyPair::from_pkcs8_der_and_sign_algo(
                &PrivatePkcs8KeyDer::from(der.as_bytes()),
                &rcgen::PKCS_RSA_SHA256,
            )
            .map_err(other)
        }
    }
}

/// Issues a CA and a server certificate for `ip` (and `localhost`), both with `kind` keys.
pub fn issue(kind: TlsKey, ip: IpAddr) -> io::Result<TlsMaterial> {
    issue_for(kind, &[ip], &["localhost".to_owned()])
}

/// Issues a CA and a server certificate naming every address in `ips` and every DNS name in
/// `names` (a multi-host site's hosts), both with `kind` keys.
pub fn issue_for(kind: TlsKey, ips: &[IpAddr], names: &[String]) -> io::Result<TlsMaterial> {
    let ca_key = key_pair(kind)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
    ca.distinguished_name
        .push(DnType::CommonName, "crawlbench origin CA (this run only)");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(other)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = key_pair(kind)?;
    let mut leaf = CertificateParams::new(names.to_vec()).map_err(other)?;
    leaf.subject_alt_names
        .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    leaf.distinguished_name
        .push(DnType::CommonName, "crawlbench origin");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&server_key, &issuer).map_err(other)?;

    let chain = vec![
        CertificateDer::from(leaf_cert.der().to_vec()),
        CertificateDer::from(ca_cert.der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(other)?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(other)?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Every connection pays a full handshake: no session tickets, no session cache. Clients
    // differ in whether they resume (rustls-based ones do, Python's `requests.get` does not);
    // resumption off at the server makes `fresh` cost the same handshake for every backend.
    server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    server.send_tls13_tickets = 0;
    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        server: Arc::new(server),
    })
}

/// The calling thread's CPU time in nanoseconds.
pub(crate) fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the struct we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A future whose polls' thread CPU time is added to a shared counter.
pub(crate) struct CpuTimed<'a, F> {
    inner: F,
    total_ns: &'a AtomicU64,
}

impl<'a, F> CpuTimed<'a, F> {
    pub(crate) fn new(inner: F, total_ns: &'a AtomicU64) -> Self {
        Self { inner, total_ns }
    }
}

impl<F: Future + Unpin> Future for CpuTimed<'_, F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = thread_cpu_ns();
        let out = Pin::new(&mut self.inner).poll(cx);
        let spent = thread_cpu_ns().saturating_sub(start);
        self.total_ns.fetch_add(spent, Ordering::Relaxed);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_a_ca_and_a_server_certificate_for_both_key_kinds() {
        for kind in [TlsKey::EcdsaP256, TlsKey::Rsa2048] {
            let m = issue(kind, IpAddr::from([127, 0, 0, 1])).unwrap();
            assert!(
                m.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"),
                "{kind:?}"
            );
            assert_eq!(
                m.server.alpn_protocols,
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            );
        }
    }
}
