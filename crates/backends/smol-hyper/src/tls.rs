//! TLS for `https://` URLs: rustls 0.23 (ring provider) through `futures-rustls`, layered on the
//! same `Async<TcpStream>` the plain path uses, so the connection stays on smol's reactor.
//!
//! One [`TlsConnector`] (one `rustls::ClientConfig`) is built per run, and only when the job has
//! something to do with TLS, so a plain-HTTP run never builds or touches any of it. Its root
//! store holds exactly the certificates of the job's `trusted_ca_pem` (the origin's per-run CA):
//! no system or webpki roots, and verification is never turned off — a job without a CA trusts
//! nothing. ALPN offers only `http/1.1`, since the connection is driven by hyper's HTTP/1 client.
//! The server name comes from the URL's host: an IP literal is verified as an IP address (the
//! origin's certificate carries `IP:127.0.0.1`), a domain as a DNS name — also a name the job's
//! resolve map sends to an address: SNI and verification are the name's, never the address's.
//!
//! The client configuration is otherwise rustls's default, including its in-memory session
//! cache: like any client that keeps one TLS configuration for its lifetime, a later connection
//! to the same server may resume an earlier session (still a handshake, and still one per
//! connection, as the origin counts them).

use std::{error::Error as StdError, fmt, io, sync::Arc};

use crawlbench_core::{ErrorKind, FetchError};
use futures_rustls::{TlsConnector, client::TlsStream};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use smol::io::{AsyncRead, AsyncWrite};
use url::Url;

/// The only protocol offered by ALPN: hyper's HTTP/1 connection drives the stream.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Why a TLS client configuration could not be built from a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSetupError(String);

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for TlsSetupError {}

/// The run's TLS client: one connector (one `rustls::ClientConfig`) shared by every connection.
#[derive(Clone)]
pub(crate) struct TlsClient {
    connector: TlsConnector,
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("provider", &"ring")
            .field("alpn", &"http/1.1")
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// Performs the TLS handshake for `url` over the connected `stream`, verifying the server's
    /// certificate against the run's roots under the URL host's name.
    pub(crate) async fn connect<IO>(
        &self,
        url: &Url,
        stream: IO,
    ) -> Result<TlsStream<IO>, FetchError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        self.connector
            .connect(server_name(url)?, stream)
            .await
            .map_err(|e| handshake_error(&e))
    }
}

/// Builds the run's client: ring as the crypto provider, rustls's safe default protocol
/// versions, the certificates of `ca_pem` (if any) as the only roots, ALPN `http/1.1`.
pub(crate) fn client(ca_pem: Option<&str>) -> Result<TlsClient, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    if let Some(pem) = ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| {
                TlsSetupError(format!("trusted CA: unreadable PEM certificate: {e}"))
            })?;
            roots
                .add(cert)
                .map_err(|e| TlsSetupError(format!("trusted CA: unusable certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(TlsSetupError(
                "trusted CA: the PEM holds no certificate".to_owned(),
            ));
        }
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError(format!("rustls configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(TlsClient {
        connector: TlsConnector::from(Arc::new(config)),
    })
}

/// The name the server's certificate must carry: the URL's host, an IP address as such.
fn server_name(url: &Url) -> Result<ServerName<'static>, FetchError> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => Ok(ServerName::IpAddress(std::net::IpAddr::V4(ip).into())),
        Some(url::Host::Ipv6(ip)) => Ok(ServerName::IpAddress(std::net::IpAddr::V6(ip).into())),
        Some(url::Host::Domain(domain)) => ServerName::try_from(domain.to_owned()).map_err(|e| {
            FetchError::new(
                ErrorKind::Tls,
                format!("TLS: {domain:?} is not a valid server name: {e}"),
            )
        }),
        None => Err(FetchError::new(ErrorKind::Other, "URL has no host")),
    }
}

/// Maps a failed TLS handshake (the TCP connection was up).
///
/// What rustls rejected (an untrusted or mismatched certificate, an alert, a protocol error)
/// and a server that ends the connection mid-handshake are [`ErrorKind::Tls`]. The network
/// failing under the handshake keeps its own kind, as it would before an HTTP response: a reset
/// is [`ErrorKind::Reset`], a timeout [`ErrorKind::Timeout`].
fn handshake_error(err: &io::Error) -> FetchError {
    let kind = if is_rustls_error(err) {
        ErrorKind::Tls
    } else {
        match err.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ErrorKind::Timeout,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => ErrorKind::Reset,
            _ => ErrorKind::Tls,
        }
    };
    FetchError::new(kind, format!("TLS handshake: {err}"))
}

/// Whether `err` or anything in its source chain is a [`rustls::Error`] — also one wrapped in an
/// [`io::Error`], whose `source()` skips the error it wraps.
pub(crate) fn is_rustls_error(err: &(dyn StdError + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.is::<rustls::Error>()
            || e.downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_without_certificates_is_refused_and_no_pem_trusts_nothing() {
        let e = client(Some(
            "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
        ))
        .expect_err("garbage PEM refused");
        assert!(e.to_string().contains("trusted CA"), "{e}");
        assert!(
            client(None).is_ok(),
            "an empty root store is valid (and trusts nothing)"
        );
    }

    #[test]
    fn ip_hosts_are_verified_as_ip_addresses() {
        let url = Url::parse("https://127.0.0.1:8443/x").unwrap();
        assert!(matches!(
            server_name(&url).unwrap(),
            ServerName::IpAddress(_)
        ));
        let url = Url::parse("https://localhost:8443/x").unwrap();
        assert!(matches!(server_name(&url).unwrap(), ServerName::DnsName(_)));
    }

    #[test]
    fn handshake_errors_are_tls_unless_the_network_failed() {
        let untrusted = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(is_rustls_error(&untrusted));
        assert_eq!(handshake_error(&untrusted).kind, ErrorKind::Tls);
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof");
        assert_eq!(handshake_error(&eof).kind, ErrorKind::Tls);
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert!(!is_rustls_error(&reset));
        assert_eq!(handshake_error(&reset).kind, ErrorKind::Reset);
    }
}
