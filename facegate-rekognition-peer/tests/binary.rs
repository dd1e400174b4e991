//! The peer as a process (what `scripts/aws-test-peers boto3-check` runs):
//! it listens where `PEER_ADDR` says, counts calls, and refuses a request
//! that AWS's signature does not cover. Also makes `cargo test` build the
//! binary, so CI's boto3 check reuses it (`FACEGATE_PEER_BIN`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_binary_serves_the_peer_on_peer_addr() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_facegate-rekognition-peer"))
        .env("PEER_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the peer");
    let get = |path: &str, body: Option<&str>| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let request = match body {
            None => format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            Some(body) => format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Amz-Target: RekognitionService.ListCollections\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        };
        std::io::Write::write_all(&mut stream, request.as_bytes())?;
        let mut answer = String::new();
        std::io::Read::read_to_string(&mut stream, &mut answer)?;
        Ok::<_, std::io::Error>(answer)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let calls = loop {
        if let Ok(answer) = get("/_peer/calls", None) {
            break answer;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the peer exited: {status} (models: scripts/fetch-models)");
        }
        assert!(Instant::now() < deadline, "the peer did not answer");
        std::thread::sleep(Duration::from_millis(100));
    };
    let unsigned = get("/", Some("{}"));
    child.kill().ok();
    child.wait().ok();
    assert!(calls.starts_with("HTTP/1.1 200"), "{calls}");
    let unsigned = unsigned.expect("an answer");
    assert!(unsigned.starts_with("HTTP/1.1 4"), "{unsigned}");
    assert!(
        unsigned.contains("MissingAuthenticationToken") || unsigned.contains("Exception"),
        "{unsigned}"
    );
}
