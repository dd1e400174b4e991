//! The webhook events FaceGate follows, read into plan changes:
//!
//! | event | change |
//! |---|---|
//! | `checkout.session.completed` (mode `subscription`, status `complete`, paid or nothing to pay) | the plan in its metadata, for its customer and subscription |
//! | `customer.subscription.created` / `updated` | by status: `active`, `trialing`, `past_due` keep the plan of its price; `canceled`, `unpaid`, `incomplete_expired` go back to the default plan; `incomplete` changes nothing yet |
//! | `customer.subscription.deleted` | back to the default plan |
//!
//! The tenant is the `tenant_id` FaceGate put in the session's and the
//! subscription's metadata when it started the checkout; FaceGate applies
//! the change only if the event's customer is the one it stored for that
//! tenant (see `facegate_core::usage::BillingUpdate`), so a checkout FaceGate
//! did not start (a payment link naming some tenant) changes nothing. Any
//! other event, or one without a tenant, customer or subscription, changes
//! nothing either (and is still acknowledged).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use facegate_core::billing::{BillingChange, BillingError, WebhookEvent};
use facegate_core::ids::TenantId;
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    object: Value,
}

fn text<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get(field).and_then(Value::as_str)
}

fn tenant_of(object: &Value) -> Option<TenantId> {
    object
        .get("metadata")
        .and_then(|m| text(m, "tenant_id"))
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .map(TenantId::from_string)
}

/// The change, when the event names its tenant, customer and subscription.
fn change(
    tenant: Option<TenantId>,
    customer: Option<&str>,
    subscription: Option<&str>,
    plan: Option<String>,
) -> Option<BillingChange> {
    Some(BillingChange {
        tenant: tenant?,
        customer_id: customer?.to_owned(),
        subscription_id: subscription?.to_owned(),
        plan,
    })
}

/// The plan of a subscription's first item, by its price (or legacy plan) id.
fn plan_of_subscription(
    object: &Value,
    plans_by_price: &BTreeMap<String, String>,
) -> Option<String> {
    let item = object.get("items")?.get("data")?.get(0)?;
    let price = item
        .get("price")
        .and_then(|p| text(p, "id"))
        .or_else(|| item.get("plan").and_then(|p| text(p, "id")))?;
    plans_by_price.get(price).cloned()
}

pub(crate) fn parse(
    body: &[u8],
    plans_by_price: &BTreeMap<String, String>,
) -> Result<WebhookEvent, BillingError> {
    let event: RawEvent =
        serde_json::from_slice(body).map_err(|e| BillingError::MalformedEvent(e.to_string()))?;
    let created = DateTime::<Utc>::from_timestamp(event.created, 0)
        .ok_or_else(|| BillingError::MalformedEvent("created is out of range".into()))?;
    let object = &event.data.object;
    let change = match event.kind.as_str() {
        "checkout.session.completed"
            if text(object, "mode") == Some("subscription")
                && text(object, "status").is_none_or(|s| s == "complete")
                && matches!(
                    text(object, "payment_status"),
                    Some("paid" | "no_payment_required")
                ) =>
        {
            let plan = object.get("metadata").and_then(|m| text(m, "plan"));
            change(
                tenant_of(object),
                text(object, "customer"),
                text(object, "subscription"),
                plan.map(str::to_owned),
            )
            .filter(|c| c.plan.is_some())
        }
        "customer.subscription.created" | "customer.subscription.updated" => {
            let plan = match text(object, "status") {
                Some("active" | "trialing" | "past_due") => {
                    plan_of_subscription(object, plans_by_price).map(Some)
                }
                Some("canceled" | "unpaid" | "incomplete_expired") => Some(None),
                _ => None,
            };
            plan.and_then(|plan| {
                change(
                    tenant_of(object),
                    text(object, "customer"),
                    text(object, "id"),
                    plan,
                )
            })
        }
        "customer.subscription.deleted" => change(
            tenant_of(object),
            text(object, "customer"),
            text(object, "id"),
            None,
        ),
        _ => None,
    };
    if change.is_none() {
        tracing::debug!(event = %event.id, kind = %event.kind, "stripe event changes no plan");
    }
    Ok(WebhookEvent {
        id: event.id,
        created,
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prices() -> BTreeMap<String, String> {
        BTreeMap::from([("price_pro".to_owned(), "pro".to_owned())])
    }

    fn event(kind: &str, object: Value) -> Vec<u8> {
        json!({ "id": "evt_1", "type": kind, "created": 1_800_000_000, "data": { "object": object } })
            .to_string()
            .into_bytes()
    }

    fn change(kind: &str, object: Value) -> Option<BillingChange> {
        parse(&event(kind, object), &prices()).unwrap().change
    }

    #[test]
    fn a_completed_checkout_sets_its_plan() {
        let done = change(
            "checkout.session.completed",
            json!({ "mode": "subscription", "status": "complete", "payment_status": "paid",
                    "customer": "cus_1", "subscription": "sub_1", "client_reference_id": "ten_1",
                    "metadata": { "tenant_id": "ten_1", "plan": "pro" } }),
        )
        .unwrap();
        assert_eq!(done.tenant.as_str(), "ten_1");
        assert_eq!(done.plan.as_deref(), Some("pro"));
        assert_eq!(
            (done.customer_id.as_str(), done.subscription_id.as_str()),
            ("cus_1", "sub_1")
        );
        let payment = json!({ "mode": "payment", "payment_status": "paid", "customer": "cus_1", "subscription": "sub_1",
                              "metadata": { "tenant_id": "ten_1", "plan": "pro" } });
        assert_eq!(change("checkout.session.completed", payment), None);
        // Not paid yet (a bank debit): the subscription's own events decide.
        let unpaid = json!({ "mode": "subscription", "payment_status": "unpaid", "customer": "cus_1",
                             "subscription": "sub_1", "metadata": { "tenant_id": "ten_1", "plan": "pro" } });
        assert_eq!(change("checkout.session.completed", unpaid), None);
        // A payment link names a tenant by client_reference_id only: not ours.
        let link = json!({ "mode": "subscription", "payment_status": "paid", "customer": "cus_2",
                           "subscription": "sub_2", "client_reference_id": "ten_1", "metadata": { "plan": "pro" } });
        assert_eq!(change("checkout.session.completed", link), None);
    }

    #[test]
    fn subscriptions_follow_their_status() {
        let subscription = |status: &str| {
            json!({ "id": "sub_1", "status": status, "customer": "cus_1",
                    "metadata": { "tenant_id": "ten_1" },
                    "items": { "data": [ { "plan": { "id": "price_pro" } } ] } })
        };
        let active = change("customer.subscription.updated", subscription("active")).unwrap();
        assert_eq!(active.plan.as_deref(), Some("pro"));
        let ended = change("customer.subscription.updated", subscription("canceled")).unwrap();
        assert_eq!(
            (ended.plan, ended.subscription_id.as_str()),
            (None, "sub_1")
        );
        assert_eq!(
            change("customer.subscription.created", subscription("incomplete")),
            None
        );
        let deleted = change("customer.subscription.deleted", subscription("canceled")).unwrap();
        assert_eq!(
            (deleted.plan, deleted.subscription_id.as_str()),
            (None, "sub_1")
        );
        // A price FaceGate does not sell: no change.
        let mut other = subscription("active");
        other["items"]["data"][0]["plan"]["id"] = json!("price_other");
        assert_eq!(change("customer.subscription.updated", other), None);
        let mut anonymous = subscription("active");
        anonymous["metadata"] = json!({});
        assert_eq!(change("customer.subscription.updated", anonymous), None);
    }

    #[test]
    fn other_events_are_acknowledged_and_bad_ones_refused() {
        let parsed = parse(&event("invoice.paid", json!({})), &prices()).unwrap();
        assert_eq!((parsed.id.as_str(), parsed.change), ("evt_1", None));
        assert!(matches!(
            parse(b"{", &prices()),
            Err(BillingError::MalformedEvent(_))
        ));
        assert!(matches!(
            parse(
                br#"{"id":"evt_1","type":"x","created":99999999999999999,"data":{"object":{}}}"#,
                &prices()
            ),
            Err(BillingError::MalformedEvent(_))
        ));
    }
}
