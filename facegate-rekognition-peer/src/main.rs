//! `facegate-rekognition-peer`: the peer as a process, for CI's boto3
//! check and for running the example app against it.
//!
//! Environment: `PEER_ADDR` (default `127.0.0.1:4599`), and the one key it
//! accepts: `PEER_ACCESS_KEY_ID`, `PEER_SECRET_ACCESS_KEY`, `PEER_ACCOUNT_ID`
//! (defaults for tests: `AKIDFACEGATEPEER`, `facegate-peer-secret`,
//! `000000000000`). Models come from `scripts/fetch-models`.

use std::net::SocketAddr;

use facegate_face_local::{EngineConfig, LocalFaceEngine};
use facegate_rekognition_peer::{Peer, PeerCredentials};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let addr: SocketAddr = var("PEER_ADDR", "127.0.0.1:4599").parse()?;
    let engine = LocalFaceEngine::load(EngineConfig::default())?;
    let credentials = PeerCredentials {
        access_key_id: var("PEER_ACCESS_KEY_ID", "AKIDFACEGATEPEER"),
        secret_access_key: var("PEER_SECRET_ACCESS_KEY", "facegate-peer-secret"),
        account_id: var("PEER_ACCOUNT_ID", "000000000000"),
    };
    let bound = Peer::new(&engine, vec![credentials]).spawn(addr).await?;
    tracing::info!(%bound, "Rekognition peer listening");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
