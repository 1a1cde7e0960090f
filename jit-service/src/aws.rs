//! The AWS provisioner: `sts:AssumeRole` into each destination account's provisioner role
//! (with the account's ExternalId), then IAM calls there. Every call is recorded as an audit
//! step; every operation is idempotent, so a job interrupted after any call is finished by
//! running it again.
//!
//! Endpoints, region and credentials come from the AWS SDK's standard chain
//! (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, instance
//! roles…); the SDK's standard retry mode retries throttling and transient errors with
//! exponential backoff.

use crate::accounts::{self, Account};
use crate::db::Store;
use crate::provision::{
    grant_policy, revoke_sessions_policy, role_arn, role_name, tags, trust_policy, BoxFut, ProvisionInput,
    ProvisionOutput, Provisioner, RevokeInput, Steps, GRANT_POLICY_NAME, REVOKE_POLICY_NAME,
};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_iam::error::ProvideErrorMetadata;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// The SDK configuration from the environment (`endpoint`, when given, overrides
/// `AWS_ENDPOINT_URL`). IAM is global; the region only selects the STS endpoint, so a
/// missing region means us-east-1.
pub async fn sdk_config(endpoint: Option<&str>, max_attempts: u32) -> SdkConfig {
    let region = aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1");
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .retry_config(RetryConfig::standard().with_max_attempts(max_attempts.max(1)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

/// The error code of an SDK error (`EntityAlreadyExists`, `NoSuchEntity`, `Throttling`, …).
fn code<E: ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

fn describe<E: std::error::Error + 'static>(e: &E) -> String {
    aws_sdk_iam::error::DisplayErrorContext(e).to_string()
}

pub struct AwsProvisioner {
    sdk: SdkConfig,
    store: Store,
    calls: AtomicU64,
    crash_after: AtomicI64,
}

impl AwsProvisioner {
    pub fn new(sdk: SdkConfig, store: Store) -> AwsProvisioner {
        AwsProvisioner { sdk, store, calls: AtomicU64::new(0), crash_after: AtomicI64::new(0) }
    }

    /// Fault injection for tests: the process "crashes" (the task panics) right after the
    /// `n`-th AWS call from now, before anything after that call is recorded.
    pub fn crash_after_calls(&self, n: i64) {
        self.crash_after.store(n, Ordering::SeqCst);
    }

    /// AWS calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn after_call(&self, call: &str) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.crash_after.load(Ordering::SeqCst) > 0 && self.crash_after.fetch_sub(1, Ordering::SeqCst) == 1 {
            panic!("injected crash after the AWS call {call}");
        }
    }

    async fn account(&self, account: &str) -> Result<Account, String> {
        accounts::get(&self.store, account)
            .await
            .map_err(|e| format!("reading the account registry failed: {e}"))?
            .ok_or_else(|| {
                format!("account {account} is not registered: an admin registers it with POST /api/v1/accounts")
            })
    }

    /// An IAM client acting as the account's provisioner role.
    async fn session(&self, acct: &Account, request_id: &str, steps: &Steps) -> Result<aws_sdk_iam::Client, String> {
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let session: String = format!("iam-jit-{request_id}").chars().take(64).collect();
        let r = sts
            .assume_role()
            .role_arn(&acct.provisioner_role_arn)
            .role_session_name(&session)
            .external_id(&acct.external_id)
            .duration_seconds(900)
            .send()
            .await;
        self.after_call("sts:AssumeRole");
        let out = match r {
            Ok(o) => o,
            Err(e) => {
                let msg = format!(
                    "assuming {} in account {} failed: {}",
                    acct.provisioner_role_arn,
                    acct.account_id,
                    describe(&e)
                );
                steps.record(&acct.account_id, "sts:AssumeRole", "failed", json!({"error": msg})).await?;
                return Err(msg);
            }
        };
        let c = out.credentials().ok_or("sts:AssumeRole returned no credentials")?;
        steps
            .record(&acct.account_id, "sts:AssumeRole", "assumed", json!({"role_arn": acct.provisioner_role_arn}))
            .await?;
        let creds = aws_credential_types::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "iam-jit-provisioner",
        );
        let conf = aws_sdk_iam::config::Builder::from(&self.sdk).credentials_provider(creds).build();
        Ok(aws_sdk_iam::Client::from_conf(conf))
    }

    /// The role's tags, or `None` when it does not exist.
    async fn role_tags(
        &self,
        iam: &aws_sdk_iam::Client,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, String> {
        let mut out = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let r = iam.list_role_tags().role_name(name).set_marker(marker.clone()).send().await;
            self.after_call("iam:ListRoleTags");
            match r {
                Ok(page) => {
                    for t in page.tags() {
                        out.insert(t.key().to_string(), t.value().to_string());
                    }
                    match page.marker() {
                        Some(m) if page.is_truncated() => marker = Some(m.to_string()),
                        _ => return Ok(Some(out)),
                    }
                }
                Err(e) if code(&e) == Some("NoSuchEntity") => return Ok(None),
                Err(e) => return Err(format!("reading the tags of {name} failed: {}", describe(&e))),
            }
        }
    }

    /// This request's role of this deployment (name, managed-by, request and deployment tags).
    fn is_ours(tags: &BTreeMap<String, String>, request_id: &str, deployment_id: &str) -> bool {
        tags.get("managed-by").map(String::as_str) == Some("iam-jit")
            && tags.get("iam-jit:request-id").map(String::as_str) == Some(request_id)
            && tags.get("iam-jit:deployment-id").map(String::as_str) == Some(deployment_id)
    }

    async fn provision_account(&self, input: &ProvisionInput, account: &str, steps: &Steps) -> Result<String, String> {
        let acct = self.account(account).await?;
        let iam = self.session(&acct, &input.request_id, steps).await?;
        let name = role_name(&input.request_id);
        let arn = role_arn(account, &input.request_id);
        let trust = trust_policy(input).to_string();
        if input.update_only {
            return self.update_account(&iam, input, account, &name, &arn, &trust, steps).await;
        }
        let mut aws_tags = Vec::new();
        for (k, v) in tags(input) {
            aws_tags.push(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(|e| e.to_string())?);
        }
        let r = iam
            .create_role()
            .role_name(&name)
            .path("/iam-jit/")
            .assume_role_policy_document(&trust)
            .max_session_duration(crate::provision::max_session_seconds(input) as i32)
            .permissions_boundary(&acct.permission_boundary_arn)
            .description(format!("iam-jit grant {} (deployment {})", input.request_id, input.deployment_id))
            .set_tags(Some(aws_tags))
            .send()
            .await;
        self.after_call("iam:CreateRole");
        match r {
            Ok(_) => {
                steps
                    .record(
                        account,
                        "iam:CreateRole",
                        "created",
                        json!({"role_arn": arn, "permissions_boundary": acct.permission_boundary_arn}),
                    )
                    .await?
            }
            Err(e) if code(&e) == Some("EntityAlreadyExists") => {
                // Reconcile only a role this request created earlier (an interrupted run);
                // anything else of that name is someone else's and is left alone.
                let tags = self.role_tags(&iam, &name).await?.unwrap_or_default();
                if !Self::is_ours(&tags, &input.request_id, &input.deployment_id) {
                    let msg = format!(
                        "a role named {name} already exists in account {account} and is not this request's \
                         (tags managed-by={:?}, iam-jit:request-id={:?}, iam-jit:deployment-id={:?}); it was left untouched",
                        tags.get("managed-by"),
                        tags.get("iam-jit:request-id"),
                        tags.get("iam-jit:deployment-id")
                    );
                    steps.record(account, "iam:CreateRole", "foreign_role", json!({"role_arn": arn})).await?;
                    return Err(msg);
                }
                let got = iam.get_role().role_name(&name).send().await;
                self.after_call("iam:GetRole");
                let role = got.map_err(|e| format!("reading {arn} failed: {}", describe(&e)))?;
                let boundary = role
                    .role()
                    .and_then(|r| r.permissions_boundary())
                    .and_then(|b| b.permissions_boundary_arn())
                    .unwrap_or_default()
                    .to_string();
                let path = role.role().map(|r| r.path().to_string()).unwrap_or_default();
                if boundary != acct.permission_boundary_arn || path != "/iam-jit/" {
                    steps
                        .record(account, "iam:GetRole", "mismatch", json!({"boundary": boundary, "path": path}))
                        .await?;
                    return Err(format!(
                        "{arn} exists with boundary `{boundary}` and path `{path}`, not `{}` and `/iam-jit/`; it was left as it is",
                        acct.permission_boundary_arn
                    ));
                }
                steps.record(account, "iam:CreateRole", "exists_reconciled", json!({"role_arn": arn})).await?;
                let u = iam.update_assume_role_policy().role_name(&name).policy_document(&trust).send().await;
                self.after_call("iam:UpdateAssumeRolePolicy");
                u.map_err(|e| format!("updating the trust policy of {arn} failed: {}", describe(&e)))?;
                steps.record(account, "iam:UpdateAssumeRolePolicy", "updated", json!({})).await?;
            }
            Err(e) => {
                let msg = format!("creating {arn} failed: {}", describe(&e));
                steps.record(account, "iam:CreateRole", "failed", json!({"error": msg})).await?;
                return Err(msg);
            }
        }
        let p = iam
            .put_role_policy()
            .role_name(&name)
            .policy_name(GRANT_POLICY_NAME)
            .policy_document(grant_policy(input).to_string())
            .send()
            .await;
        self.after_call("iam:PutRolePolicy");
        if let Err(e) = p {
            let msg = format!("putting the grant policy on {arn} failed: {}", describe(&e));
            steps.record(account, "iam:PutRolePolicy", "failed", json!({"error": msg})).await?;
            return Err(msg);
        }
        steps.record(account, "iam:PutRolePolicy", "put", json!({"policy_name": GRANT_POLICY_NAME})).await?;
        Ok(arn)
    }

    /// An extension: move the trust's and the grant's end, and the not-after tag, on a role
    /// that exists and is this request's; a role that is gone stays gone.
    #[allow(clippy::too_many_arguments)]
    async fn update_account(
        &self,
        iam: &aws_sdk_iam::Client,
        input: &ProvisionInput,
        account: &str,
        name: &str,
        arn: &str,
        trust: &str,
        steps: &Steps,
    ) -> Result<String, String> {
        let Some(tags) = self.role_tags(iam, name).await? else {
            steps.record(account, "iam:ListRoleTags", "already_gone", json!({})).await?;
            return Ok(arn.to_string());
        };
        if !Self::is_ours(&tags, &input.request_id, &input.deployment_id) {
            steps.record(account, "iam:ListRoleTags", "foreign_role_untouched", json!({"role_name": name})).await?;
            return Err(format!("{arn} is not this request's role; it was left untouched"));
        }
        let u = iam.update_assume_role_policy().role_name(name).policy_document(trust).send().await;
        self.after_call("iam:UpdateAssumeRolePolicy");
        u.map_err(|e| format!("updating the trust policy of {arn} failed: {}", describe(&e)))?;
        steps.record(account, "iam:UpdateAssumeRolePolicy", "updated", json!({})).await?;
        let p = iam
            .put_role_policy()
            .role_name(name)
            .policy_name(GRANT_POLICY_NAME)
            .policy_document(grant_policy(input).to_string())
            .send()
            .await;
        self.after_call("iam:PutRolePolicy");
        p.map_err(|e| format!("putting the grant policy on {arn} failed: {}", describe(&e)))?;
        steps.record(account, "iam:PutRolePolicy", "put", json!({"policy_name": GRANT_POLICY_NAME})).await?;
        let not_after = crate::util::fmt_ts(input.not_after_ms);
        let tag = aws_sdk_iam::types::Tag::builder()
            .key("iam-jit:not-after")
            .value(&not_after)
            .build()
            .map_err(|e| e.to_string())?;
        let t = iam.tag_role().role_name(name).tags(tag).send().await;
        self.after_call("iam:TagRole");
        t.map_err(|e| format!("tagging {arn} failed: {}", describe(&e)))?;
        steps.record(account, "iam:TagRole", "tagged", json!({"iam-jit:not-after": not_after})).await?;
        Ok(arn.to_string())
    }

    async fn revoke_account(&self, input: &RevokeInput, account: &str, steps: &Steps) -> Result<(), String> {
        let acct = self.account(account).await?;
        let iam = self.session(&acct, &input.request_id, steps).await?;
        let name = role_name(&input.request_id);
        let gone = |e: &dyn ProvideErrorMetadata| e.code() == Some("NoSuchEntity");
        let Some(tags) = self.role_tags(&iam, &name).await? else {
            steps.record(account, "iam:ListRoleTags", "already_gone", json!({})).await?;
            return Ok(());
        };
        if !Self::is_ours(&tags, &input.request_id, &input.deployment_id) {
            steps.record(account, "iam:ListRoleTags", "foreign_role_untouched", json!({"role_name": name})).await?;
            return Ok(());
        }
        if input.early {
            let r = iam
                .put_role_policy()
                .role_name(&name)
                .policy_name(REVOKE_POLICY_NAME)
                .policy_document(revoke_sessions_policy(input.now_ms).to_string())
                .send()
                .await;
            self.after_call("iam:PutRolePolicy");
            match r {
                Ok(_) => steps.record(account, "iam:PutRolePolicy", "sessions_revoked", json!({})).await?,
                Err(e) if gone(&e) => {
                    steps.record(account, "iam:PutRolePolicy", "already_gone", json!({})).await?;
                    return Ok(());
                }
                Err(e) => return Err(format!("denying the sessions of {name} failed: {}", describe(&e))),
            }
        }
        let mut marker: Option<String> = None;
        loop {
            let r = iam.list_role_policies().role_name(&name).set_marker(marker.clone()).send().await;
            self.after_call("iam:ListRolePolicies");
            let page = match r {
                Ok(p) => p,
                Err(e) if gone(&e) => return Ok(()),
                Err(e) => return Err(format!("listing the inline policies of {name} failed: {}", describe(&e))),
            };
            for p in page.policy_names() {
                let d = iam.delete_role_policy().role_name(&name).policy_name(p).send().await;
                self.after_call("iam:DeleteRolePolicy");
                match d {
                    Ok(_) => {
                        steps.record(account, "iam:DeleteRolePolicy", "deleted", json!({"policy_name": p})).await?
                    }
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(format!("deleting the inline policy {p} of {name} failed: {}", describe(&e))),
                }
            }
            match page.marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        loop {
            let r = iam.list_attached_role_policies().role_name(&name).send().await;
            self.after_call("iam:ListAttachedRolePolicies");
            let page = match r {
                Ok(p) => p,
                Err(e) if gone(&e) => return Ok(()),
                Err(e) => return Err(format!("listing the managed policies of {name} failed: {}", describe(&e))),
            };
            if page.attached_policies().is_empty() {
                break;
            }
            for p in page.attached_policies() {
                let arn = p.policy_arn().unwrap_or_default();
                let d = iam.detach_role_policy().role_name(&name).policy_arn(arn).send().await;
                self.after_call("iam:DetachRolePolicy");
                match d {
                    Ok(_) => {
                        steps.record(account, "iam:DetachRolePolicy", "detached", json!({"policy_arn": arn})).await?
                    }
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(format!("detaching {arn} from {name} failed: {}", describe(&e))),
                }
            }
        }
        let d = iam.delete_role().role_name(&name).send().await;
        self.after_call("iam:DeleteRole");
        match d {
            Ok(_) => steps.record(account, "iam:DeleteRole", "deleted", json!({"role_name": name})).await?,
            Err(e) if gone(&e) => steps.record(account, "iam:DeleteRole", "already_gone", json!({})).await?,
            Err(e) => return Err(format!("deleting {name} failed: {}", describe(&e))),
        }
        Ok(())
    }

    /// The `/iam-jit/` roles of `deployment_id` in the account, with the request each names.
    pub async fn list_managed_roles(
        &self,
        account: &str,
        deployment_id: &str,
        steps: &Steps,
    ) -> Result<Vec<Value>, String> {
        let acct = self.account(account).await?;
        let iam = self.session(&acct, "orphan-sweep", steps).await?;
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let r = iam.list_roles().path_prefix("/iam-jit/").set_marker(marker.clone()).send().await;
            self.after_call("iam:ListRoles");
            let page = r.map_err(|e| format!("listing the roles of account {account} failed: {}", describe(&e)))?;
            for role in page.roles() {
                let Some(tags) = self.role_tags(&iam, role.role_name()).await? else { continue };
                if tags.get("managed-by").map(String::as_str) != Some("iam-jit")
                    || tags.get("iam-jit:deployment-id").map(String::as_str) != Some(deployment_id)
                {
                    continue;
                }
                out.push(json!({
                    "account_id": account,
                    "role_name": role.role_name(),
                    "role_arn": role.arn(),
                    "request_id": tags.get("iam-jit:request-id"),
                    "not_after": tags.get("iam-jit:not-after"),
                }));
            }
            match page.marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }
}

impl Provisioner for AwsProvisioner {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn provision<'a>(
        &'a self,
        input: &'a ProvisionInput,
        steps: &'a Steps,
    ) -> BoxFut<'a, Result<ProvisionOutput, String>> {
        Box::pin(async move {
            let principal = input.trust_principal.as_deref().unwrap_or_default();
            crate::provision::check_trust_principal(principal)?;
            let mut roles = Vec::new();
            for a in &input.accounts {
                let arn = self.provision_account(input, a, steps).await?;
                roles.push(json!({"account_id": a, "role_arn": arn}));
            }
            Ok(ProvisionOutput { roles })
        })
    }

    fn revoke<'a>(&'a self, input: &'a RevokeInput, steps: &'a Steps) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            // Every account is attempted even when one fails, so one unreachable account does
            // not keep the others' roles alive; the job is retried until all are gone.
            let mut errors = Vec::new();
            for a in &input.accounts {
                if let Err(e) = self.revoke_account(input, a, steps).await {
                    errors.push(e);
                }
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors.join("; "))
            }
        })
    }

    fn credentials<'a>(
        &'a self,
        account: &'a str,
        request_id: &'a str,
        source_identity: &'a str,
        seconds: i32,
        steps: &'a Steps,
    ) -> BoxFut<'a, Result<Value, String>> {
        Box::pin(async move {
            let arn = role_arn(account, request_id);
            let r = aws_sdk_sts::Client::new(&self.sdk)
                .assume_role()
                .role_arn(&arn)
                .role_session_name(source_identity)
                .source_identity(source_identity)
                .duration_seconds(seconds)
                .send()
                .await;
            self.after_call("sts:AssumeRole");
            let out = match r {
                Ok(o) => o,
                Err(e) => {
                    let msg = format!("assuming {arn} failed: {}", describe(&e));
                    steps.record(account, "sts:AssumeRole", "failed", json!({"error": msg})).await?;
                    return Err(msg);
                }
            };
            let c = out.credentials().ok_or("sts:AssumeRole returned no credentials")?;
            let expiration = c
                .expiration()
                .fmt(aws_sdk_sts::primitives::DateTimeFormat::DateTime)
                .map_err(|e| format!("the credentials' expiry cannot be read: {e}"))?;
            steps
                .record(
                    account,
                    "sts:AssumeRole",
                    "credentials_issued",
                    json!({"role_arn": arn, "source_identity": source_identity, "expiration": expiration}),
                )
                .await?;
            Ok(json!({
                "account_id": account,
                "role_arn": arn,
                "access_key_id": c.access_key_id(),
                "secret_access_key": c.secret_access_key(),
                "session_token": c.session_token(),
                "expiration": expiration,
            }))
        })
    }

    fn managed_roles<'a>(
        &'a self,
        account: &'a str,
        deployment_id: &'a str,
        steps: &'a Steps,
    ) -> BoxFut<'a, Result<Vec<Value>, String>> {
        Box::pin(self.list_managed_roles(account, deployment_id, steps))
    }
}
