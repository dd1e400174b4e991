//! A real actix server on loopback, for what the in-memory test requests
//! cannot show: a chunked body streamed in pieces, with no `Content-Length`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use actix_web::{App, HttpServer};

use crate::support::TestApp;

/// Sends `head` and then `total` bytes of spaces in 64 KB chunks
/// (`Transfer-Encoding: chunked`, then `tail` as the last chunk), and
/// returns the raw response. A server may answer before it has read
/// everything; the rest of the upload then fails, which is fine.
fn chunked_post(addr: SocketAddr, head: String, total: usize, tail: &'static [u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let upload = std::thread::spawn(move || -> std::io::Result<()> {
        writer.write_all(head.as_bytes())?;
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            writer.write_all(format!("{n:x}\r\n").as_bytes())?;
            writer.write_all(&chunk[..n])?;
            writer.write_all(b"\r\n")?;
            sent += n;
        }
        if !tail.is_empty() {
            writer.write_all(format!("{:x}\r\n", tail.len()).as_bytes())?;
            writer.write_all(tail)?;
            writer.write_all(b"\r\n")?;
        }
        writer.write_all(b"0\r\n\r\n")
    });
    let mut response = Vec::new();
    let mut buf = [0; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(err) => panic!("reading the response: {err}"),
        }
        if complete(&response) {
            break;
        }
    }
    let _ = upload.join();
    String::from_utf8_lossy(&response).into_owned()
}

/// Whether `response` holds the head and the whole `Content-Length` body.
fn complete(response: &[u8]) -> bool {
    let text = String::from_utf8_lossy(response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .is_some_and(|len| body.len() >= len)
}

fn request_head(path: &str, key: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: localhost\r\nx-api-key: {key}\r\n\
         content-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    )
}

#[actix_web::test]
async fn streamed_bodies_meet_the_cores_limits_over_http() {
    let app = TestApp::new().await;
    // Built once, cloned into each worker's app.
    let api = facegate_actix::configure(app.facegate.clone());
    let server = HttpServer::new(move || App::new().configure(api.clone()))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let cases: [(&str, usize, &'static [u8], &str); 3] = [
        // 7 MB in 64 KB chunks to an image route: the core stops at 6 MB.
        ("/v1/match", 7 * 1024 * 1024, b"", "PAYLOAD_TOO_LARGE"),
        // 100 KB to a JSON route: the core stops at 64 KB.
        ("/v1/consent", 100 * 1024, b"", "PAYLOAD_TOO_LARGE"),
        // 1 MB (past actix's 256 KB default) to an image route: read whole.
        ("/v1/match", 1024 * 1024, b"not json", "INVALID_JSON"),
    ];
    for (path, total, tail, code) in cases {
        let head = request_head(path, &app.key);
        let response =
            actix_web::rt::task::spawn_blocking(move || chunked_post(addr, head, total, tail))
                .await
                .unwrap();
        let status = if code == "PAYLOAD_TOO_LARGE" {
            413
        } else {
            400
        };
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status} ")),
            "{path}: {response}"
        );
        assert!(
            response.contains(&format!("\"code\":\"{code}\"")),
            "{path}: {response}"
        );
        assert!(
            response
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{path}: {response}"
        );
    }
    handle.stop(true).await;
}
