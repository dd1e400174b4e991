//! Deletion receipts (issue 19), written in the deleting transaction.

use facegate_core::deletion::{DeletionReason, DeletionReceipt, Erased};
use facegate_core::ids::{ReceiptId, TenantId, UserId};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::entity::deletion_receipt;

/// Writes the receipt of deleting `user` of `tenant`; one sealed for any
/// other user or tenant is refused (and the deletion rolled back).
pub(crate) async fn insert(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    user: &UserId,
    receipt: &DeletionReceipt,
) -> Result<(), DbErr> {
    if receipt.tenant_id != *tenant || receipt.user_id != *user {
        return Err(DbErr::Custom(format!(
            "a receipt for {}/{} cannot record the deletion of {tenant}/{user}",
            receipt.tenant_id, receipt.user_id
        )));
    }
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let row = deletion_receipt::ActiveModel {
        id: Set(receipt.id.to_string()),
        tenant_id: Set(receipt.tenant_id.to_string()),
        user_id: Set(receipt.user_id.to_string()),
        reason: Set(receipt.reason.as_str().to_owned()),
        deleted_at: Set(receipt.deleted_at),
        faces: Set(count(receipt.deleted.faces)),
        liveness_images: Set(count(receipt.deleted.liveness_images)),
        sessions: Set(count(receipt.deleted.sessions)),
        refresh_tokens: Set(count(receipt.deleted.refresh_tokens)),
        provider_faces: Set(count(receipt.deleted.provider_faces)),
        receipt: Set(receipt.receipt.clone()),
    };
    deletion_receipt::Entity::insert(row).exec(txn).await?;
    Ok(())
}

/// Receipts of the tenant older than `before` (the demo's, which keeps
/// nothing past its data TTL).
pub(crate) async fn delete_before(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    before: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    let deleted = deletion_receipt::Entity::delete_many()
        .filter(deletion_receipt::Column::TenantId.eq(tenant.as_str()))
        .filter(deletion_receipt::Column::DeletedAt.lt(before))
        .exec(txn)
        .await?;
    Ok(deleted.rows_affected)
}

pub(crate) async fn find(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &ReceiptId,
) -> Result<Option<DeletionReceipt>, DbErr> {
    let row = deletion_receipt::Entity::find_by_id(id.as_str())
        .filter(deletion_receipt::Column::TenantId.eq(tenant.as_str()))
        .one(db)
        .await?;
    row.map(|row| {
        let count = |n: i32| u32::try_from(n).unwrap_or(0);
        Ok(DeletionReceipt {
            reason: DeletionReason::parse(&row.reason)
                .ok_or_else(|| DbErr::Type(format!("deletion reason {:?}", row.reason)))?,
            id: ReceiptId::from_string(row.id),
            tenant_id: TenantId::from_string(row.tenant_id),
            user_id: UserId::from_string(row.user_id),
            deleted_at: row.deleted_at,
            deleted: Erased {
                faces: count(row.faces),
                liveness_images: count(row.liveness_images),
                sessions: count(row.sessions),
                refresh_tokens: count(row.refresh_tokens),
                provider_faces: count(row.provider_faces),
            },
            receipt: row.receipt,
        })
    })
    .transpose()
}
