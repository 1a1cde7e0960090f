//! Background work of `iam-jit serve`: the expiry sweep, outbox delivery, audit checkpoints
//! and the inactive-token sweep. Every replica runs them; leases and row locks make each
//! item happen once.

use crate::{audit, identity, notify, requests, AppState};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Spawn the loops; they stop when `shutting_down` is set.
pub fn spawn(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut handles = Vec::new();
    let s = state.clone();
    handles.push(tokio::spawn(async move {
        every(&s, s.config.sweep_interval_secs.max(1), |s| async move {
            if let Err(e) = requests::sweep(&s).await {
                tracing::warn!(error = %e, "expiry sweep failed");
            }
        })
        .await
    }));
    let s = state.clone();
    handles.push(tokio::spawn(async move {
        every(&s, s.config.outbox_interval_secs.max(1), |s| async move {
            if let Err(e) = notify::deliver_due(&s, 50).await {
                tracing::warn!(error = %e, "outbox delivery failed");
            }
        })
        .await
    }));
    if state.audit_key().is_some() {
        let s = state.clone();
        handles.push(tokio::spawn(async move {
            every(&s, s.config.checkpoint_interval_secs.max(1), |s| async move {
                if let Some(key) = s.audit_key() {
                    if let Err(e) = audit::checkpoint(&s.store, key).await {
                        tracing::warn!(error = %e, "audit checkpoint failed");
                    }
                }
            })
            .await
        }));
    }
    if state.provisioner.name() == "aws" && state.config.orphan_sweep_interval_secs > 0 {
        let s = state.clone();
        handles.push(tokio::spawn(async move {
            // Not at start-up: unlike the expiry catch-up, nothing is owed right away, and a
            // restart (or several replicas starting) should not list every account's roles.
            tokio::time::sleep(Duration::from_secs(s.config.orphan_sweep_interval_secs)).await;
            every(&s, s.config.orphan_sweep_interval_secs, |s| async move {
                let list = match crate::accounts::list(&s.store).await {
                    Ok(l) => l,
                    Err(e) => return tracing::warn!(error = %e, "orphan sweep: reading the accounts failed"),
                };
                for a in list {
                    match crate::accounts::orphan_sweep(
                        &s,
                        "system:orphan-sweep",
                        &a.account_id,
                        s.config.orphan_sweep_delete,
                    )
                    .await
                    {
                        Ok(v) if v["orphans"].as_array().is_some_and(|o| !o.is_empty()) => tracing::warn!(
                            account = %a.account_id,
                            orphans = %v["orphans"],
                            deleted = %v["deleted"],
                            "orphaned iam-jit roles found"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(account = %a.account_id, error = %e, "orphan sweep failed"),
                    }
                }
            })
            .await
        }));
    }
    let s = state.clone();
    handles.push(tokio::spawn(async move {
        every(&s, 3600, |s| async move {
            let ms = i64::from(s.config.token_inactivity_days) * 86_400_000;
            match identity::sweep_inactive_tokens(&s.store, ms).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(revoked = n, "inactive API tokens revoked"),
                Err(e) => tracing::warn!(error = %e, "token sweep failed"),
            }
        })
        .await
    }));
    handles
}

async fn every<F, Fut>(state: &AppState, secs: u64, f: F)
where
    F: Fn(AppState) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut tick = tokio::time::interval(Duration::from_secs(secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if state.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        f(state.clone()).await;
    }
}
