//! Operator commands for a FaceGate database: tenants and API keys.
//!
//! ```text
//! cargo run -p facegate-examples --bin facegate-admin -- tenant create "Acme Inc"
//! cargo run -p facegate-examples --bin facegate-admin -- key mint ten_… --live
//! cargo run -p facegate-examples --bin facegate-admin -- key mint ten_… --client --origin https://app.example
//! cargo run -p facegate-examples --bin facegate-admin -- key list ten_…
//! cargo run -p facegate-examples --bin facegate-admin -- key revoke ten_… key_…
//! cargo run -p facegate-examples --bin facegate-admin -- tenant suspend ten_…
//! cargo run -p facegate-examples --bin facegate-admin -- tenant plan ten_… pro
//! FACEGATE_MASTER_KEY=… cargo run -p facegate-examples --bin facegate-admin -- reseal
//! ```
//! Uses the same `FACEGATE_DATABASE_URL` as the example apps.

use std::process::ExitCode;

use facegate_core::domain::{KeyEnvironment, OriginRules, TenantSettings, TenantStatus};
use facegate_core::ids::{ApiKeyId, TenantId};
use facegate_core::{FaceGate, MintedKey};
use facegate_examples::{Settings, build_facegate};

const USAGE: &str = "usage:
  facegate-admin tenant create <name> [--live]   create a tenant and its first key
  facegate-admin tenant suspend <tenant_id>      refuse every call of the tenant (403)
  facegate-admin tenant activate <tenant_id>
  facegate-admin tenant plan <tenant_id> <plan>  put the tenant on one of FACEGATE_PLANS
  facegate-admin tenant settings <tenant_id> [--threshold N] [--allow-duplicates | --prevent-duplicates]
                                             [--minimum-age N | --no-minimum-age]
                                             [--liveness active|passive] [--liveness-actions turn_left,blink,…]
                                             [--liveness-min-confidence N] [--lockout-minutes N]
                                             [--pin off|when_ambiguous|always] [--unique-pins | --shared-pins]
                                             [--client-match | --no-client-match]
                                             [--retention-days N]   delete users idle N days (1-1095)
  facegate-admin key mint <tenant_id> [--live]   new server key, fg_test_ (fg_live_ with --live)
                 [--client [--origin URL]... [--reject-empty-origin]]
                                             a browser key, fg_test_pub_ (see docs/security.md)
  facegate-admin key list <tenant_id>
  facegate-admin key revoke <tenant_id> <key_id>
  facegate-admin signing-key rotate              sign tokens with a new key from now on
                                             (every instance within a minute; see docs/scaling.md)
  facegate-admin reseal                          seal templates, signing keys and webhook secrets
                                             under FACEGATE_MASTER_KEY (after setting or rotating it;
                                             drop FACEGATE_PREVIOUS_MASTER_KEYS once it leaves 0)";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Operator commands touch only the database: no face engine to load.
    let settings = Settings {
        face_engine: "none".into(),
        ..Settings::from_env()
    };
    let facegate = match build_facegate(&settings).await {
        Ok(facegate) => facegate,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    match run(&facegate, &settings, &args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    facegate: &FaceGate,
    settings: &Settings,
    args: &[&str],
) -> Result<(), Box<dyn std::error::Error>> {
    let environment = |flags: &[&str]| match flags {
        ["--live"] => Ok(KeyEnvironment::Live),
        [] => Ok(KeyEnvironment::Test),
        _ => Err(USAGE),
    };
    match args {
        ["tenant", "create", name, flags @ ..] => {
            let tenant = facegate.create_tenant(name).await?;
            println!("tenant {}", tenant.id);
            let minted = facegate
                .mint_api_key(&tenant.id, environment(flags)?)
                .await?;
            print_key(&minted);
        }
        ["tenant", "suspend", tenant] => {
            facegate
                .set_tenant_status(&TenantId::from_string(*tenant), TenantStatus::Suspended)
                .await?;
            println!("tenant {tenant} suspended");
        }
        ["tenant", "activate", tenant] => {
            facegate
                .set_tenant_status(&TenantId::from_string(*tenant), TenantStatus::Active)
                .await?;
            println!("tenant {tenant} active");
        }
        ["tenant", "plan", tenant, plan] => {
            facegate
                .set_tenant_plan(&TenantId::from_string(*tenant), plan)
                .await?;
            println!("tenant {tenant} on plan {plan}");
        }
        ["tenant", "settings", tenant, flags @ ..] => {
            let tenant = TenantId::from_string(*tenant);
            let mut settings = facegate
                .store()
                .tenant(&tenant)
                .await?
                .ok_or_else(|| format!("tenant {tenant} not found"))?
                .settings;
            let mut flags = flags.iter();
            while let Some(flag) = flags.next() {
                let mut number = || -> Result<f32, Box<dyn std::error::Error>> {
                    Ok(flags.next().ok_or(USAGE)?.parse::<f32>()?)
                };
                match *flag {
                    "--threshold" => settings.match_threshold = number()?.clamp(0.0, 100.0),
                    "--minimum-age" => settings.minimum_age = Some(number()? as u8),
                    "--no-minimum-age" => settings.minimum_age = None,
                    "--allow-duplicates" => settings.prevent_duplicates = false,
                    "--prevent-duplicates" => settings.prevent_duplicates = true,
                    "--liveness" => {
                        settings.liveness.mode =
                            serde_json::from_value(flags.next().ok_or(USAGE)?.to_string().into())?
                    }
                    "--liveness-actions" => {
                        settings.liveness.actions = flags
                            .next()
                            .ok_or(USAGE)?
                            .split(',')
                            .map(|a| serde_json::from_value(a.trim().to_string().into()))
                            .collect::<Result<_, _>>()?
                    }
                    "--liveness-min-confidence" => {
                        settings.liveness.min_confidence = number()?.clamp(0.0, 100.0)
                    }
                    "--lockout-minutes" => settings.liveness.lockout_minutes = number()? as u32,
                    "--pin" => {
                        settings.pin.mode =
                            serde_json::from_value(flags.next().ok_or(USAGE)?.to_string().into())?
                    }
                    "--unique-pins" => settings.pin.unique = true,
                    "--shared-pins" => settings.pin.unique = false,
                    "--client-match" => settings.client_match = true,
                    "--no-client-match" => settings.client_match = false,
                    "--retention-days" => {
                        let days: u32 = flags.next().ok_or(USAGE)?.parse()?;
                        if !(1..=TenantSettings::MAX_RETENTION_DAYS).contains(&days) {
                            return Err(format!(
                                "--retention-days: 1 to {} (BIPA: at most three years)",
                                TenantSettings::MAX_RETENTION_DAYS
                            )
                            .into());
                        }
                        settings.biometric_retention_days = days;
                    }
                    _ => return Err(USAGE.into()),
                }
            }
            facegate.set_tenant_settings(&tenant, &settings).await?;
            println!("{}", serde_json::to_string_pretty(&settings)?);
        }
        ["key", "mint", tenant, flags @ ..] => {
            let tenant = TenantId::from_string(*tenant);
            let mut live = false;
            let mut client = false;
            let mut origins = OriginRules::default();
            let mut flags = flags.iter();
            while let Some(flag) = flags.next() {
                match *flag {
                    "--live" => live = true,
                    "--client" => client = true,
                    "--origin" => origins.allowed.push(flags.next().ok_or(USAGE)?.to_string()),
                    "--reject-empty-origin" => origins.reject_empty = true,
                    _ => return Err(USAGE.into()),
                }
            }
            if !client && origins != OriginRules::default() {
                return Err("--origin and --reject-empty-origin are for --client keys".into());
            }
            let environment = if live {
                KeyEnvironment::Live
            } else {
                KeyEnvironment::Test
            };
            let minted = if client {
                facegate
                    .mint_client_key(&tenant, environment, origins)
                    .await?
            } else {
                facegate.mint_api_key(&tenant, environment).await?
            };
            print_key(&minted);
        }
        ["signing-key", "rotate"] => {
            let kid = facegate.rotate_signing_key().await?;
            println!("signing key {kid}");
        }
        ["reseal"] => {
            if settings.master_key.is_none() {
                return Err("reseal needs FACEGATE_MASTER_KEY".into());
            }
            let report = facegate.reseal().await?;
            println!(
                "sealed again: {} face templates, {} signing keys, {} webhook secrets; left {}",
                report.templates, report.signing_keys, report.webhook_secrets, report.left
            );
            if report.left > 0 {
                return Err("some values were not moved (changed meanwhile, or opening under no configured key: see the log); run it again before dropping a previous key".into());
            }
        }
        ["key", "list", tenant] => {
            for key in facegate
                .store()
                .api_keys(&TenantId::from_string(*tenant))
                .await?
            {
                let state = key
                    .revoked_at
                    .map_or("active".to_owned(), |at| format!("revoked {at}"));
                let origins = if key.origins.allowed.is_empty() {
                    String::new()
                } else {
                    format!("  origins {}", key.origins.allowed.join(","))
                };
                println!(
                    "{}  {}…  {}  {state}{origins}",
                    key.id,
                    key.prefix,
                    key.scope.as_str()
                );
            }
        }
        ["key", "revoke", tenant, key] => {
            facegate
                .revoke_api_key(
                    &TenantId::from_string(*tenant),
                    &ApiKeyId::from_string(*key),
                )
                .await?;
            println!("key {key} revoked");
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}

fn print_key(minted: &MintedKey) {
    println!("key {}", minted.record.id);
    println!("{}", minted.key.expose_secret());
    eprintln!("(the key is shown only this once; FaceGate stores only its hash)");
}
