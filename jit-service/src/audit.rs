//! The audit trail: an append-only, hash-chained log whose head (last sequence number and
//! hash) lives in the database, in the same transaction as the change it records. Every
//! replica appends through that head row, so the chain stays linear across restarts and
//! across several `iam-jit serve` processes on one PostgreSQL.
//!
//! Record `n` stores `prev_hash` (record `n-1`'s hash, `genesis` for the first) and
//! `hash = sha256(len-prefixed seq, ts, actor, action, subject, data, prev_hash)`. Editing a
//! record breaks its hash; deleting or reordering breaks the sequence or the link; cutting the
//! tail and rewinding the head is caught by **checkpoints**: HMAC-SHA256 signatures of
//! (seq, hash) under a key from the configuration, written periodically, which name a record
//! that must still exist with that hash.

use crate::db::{Store, Write};
use crate::util::{ct_eq, hmac_hex, now_ms, sha256_hex};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Row};

pub const GENESIS: &str = "genesis";

/// One record as stored and exported.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Record {
    pub seq: i64,
    pub ts: String,
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub data: Value,
    pub prev_hash: String,
    pub hash: String,
}

fn field(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(s.as_bytes());
    out.push(b'\n');
}

/// The hash of one record: every field length-prefixed, so no two records share an input.
pub fn record_hash(seq: i64, ts: i64, actor: &str, action: &str, subject: &str, data: &str, prev: &str) -> String {
    let mut buf = Vec::with_capacity(128 + data.len());
    for f in [&seq.to_string(), &ts.to_string(), actor, action, subject, data, prev] {
        field(&mut buf, f);
    }
    sha256_hex(&buf)
}

/// Append one record inside `w` (the transaction of the change it describes). Takes the head
/// row's lock last, after the caller's own row locks, so writers never deadlock.
pub async fn append(w: &mut Write, actor: &str, action: &str, subject: &str, data: Value) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT seq, hash FROM audit_head WHERE id = 1{}", w.lock());
    let head = sqlx::query(AssertSqlSafe(sql)).fetch_one(&mut *w.tx).await?;
    let prev_seq: i64 = head.get(0);
    let prev_hash: String = head.get(1);
    let seq = prev_seq + 1;
    let ts = now_ms();
    let data = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into());
    let hash = record_hash(seq, ts, actor, action, subject, &data, &prev_hash);
    sqlx::query(
        "INSERT INTO audit_log (seq, ts, actor, action, subject, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(seq)
    .bind(ts)
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(&data)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *w.tx)
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut *w.tx)
        .await?;
    Ok(seq)
}

/// Append one record in a transaction of its own (logins, reads that are audited).
pub async fn append_now(
    store: &Store,
    actor: &str,
    action: &str,
    subject: &str,
    data: Value,
) -> Result<i64, sqlx::Error> {
    let mut w = store.write().await?;
    let seq = append(&mut w, actor, action, subject, data).await?;
    w.commit().await?;
    Ok(seq)
}

fn row_to_record(r: &sqlx::any::AnyRow) -> (Record, String) {
    let data_text: String = r.get("data");
    let ts_ms: i64 = r.get("ts");
    (
        Record {
            seq: r.get("seq"),
            ts: crate::util::fmt_ts(ts_ms),
            ts_ms,
            actor: r.get("actor"),
            action: r.get("action"),
            subject: r.get("subject"),
            data: serde_json::from_str(&data_text).unwrap_or(Value::String(data_text.clone())),
            prev_hash: r.get("prev_hash"),
            hash: r.get("hash"),
        },
        data_text,
    )
}

/// Filters for listing and exporting.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub subject: Option<String>,
    pub actor: Option<String>,
    pub action_prefix: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub after_seq: Option<i64>,
    pub limit: i64,
    /// Newest first (the last `limit` records), instead of oldest first.
    pub newest_first: bool,
}

pub async fn list(store: &Store, f: &Filter) -> Result<Vec<Record>, sqlx::Error> {
    let mut sql =
        String::from("SELECT seq, ts, actor, action, subject, data, prev_hash, hash FROM audit_log WHERE 1 = 1");
    let mut args: Vec<String> = Vec::new();
    let mut ints: Vec<i64> = Vec::new();
    let mut n = 0;
    let mut push = |sql: &mut String, clause: &str| {
        n += 1;
        sql.push_str(&clause.replace("?", &format!("${n}")));
        n
    };
    if let Some(s) = &f.subject {
        push(&mut sql, " AND subject = ?");
        args.push(s.clone());
    }
    if let Some(a) = &f.actor {
        push(&mut sql, " AND actor = ?");
        args.push(a.clone());
    }
    if let Some(p) = &f.action_prefix {
        // A prefix, matched literally. The escape character is named: SQLite's LIKE has none by
        // default (so `\_` matched nothing there), PostgreSQL's is `\`.
        push(&mut sql, " AND action LIKE ? ESCAPE '\\'");
        args.push(format!("{}%", p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    }
    for (clause, v) in [(" AND ts >= ?", f.since_ms), (" AND ts < ?", f.until_ms), (" AND seq > ?", f.after_seq)] {
        if let Some(v) = v {
            push(&mut sql, clause);
            ints.push(v);
        }
    }
    sql.push_str(if f.newest_first { " ORDER BY seq DESC LIMIT " } else { " ORDER BY seq LIMIT " });
    sql.push_str(&f.limit.clamp(1, 100_000).to_string());
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for a in &args {
        q = q.bind(a.clone());
    }
    for v in &ints {
        q = q.bind(*v);
    }
    Ok(q.fetch_all(&store.pool).await?.iter().map(|r| row_to_record(r).0).collect())
}

/// The first problem found in the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct BadRecord {
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub records: i64,
    pub head_seq: i64,
    pub checkpoints: i64,
    /// `false` when no checkpoint key is configured: a cut tail with a rewound head cannot be
    /// told from a shorter log.
    pub truncation_checked: bool,
    pub first_bad: Option<BadRecord>,
}

/// Walk the whole chain from the first record, in pages; stop at the first bad record.
pub async fn verify(store: &Store, key: Option<&[u8]>) -> Result<Verification, sqlx::Error> {
    // One snapshot for the head, the records and the checkpoints: read separately, records
    // appended during the walk looked like a log longer than its head (reported as tampering).
    // SQLite's read transaction keeps its snapshot in WAL mode; PostgreSQL needs REPEATABLE READ.
    let mut tx = store.pool.begin().await?;
    if store.backend == crate::db::Backend::Postgres {
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    }
    let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_optional(&mut *tx).await?;
    let Some(head) = head else {
        return Ok(Verification {
            ok: false,
            records: 0,
            head_seq: 0,
            checkpoints: 0,
            truncation_checked: key.is_some(),
            first_bad: Some(BadRecord { seq: 0, reason: "the chain head row is missing".into() }),
        });
    };
    let (head_seq, head_hash): (i64, String) = (head.get(0), head.get(1));
    let mut expect_seq = 1i64;
    let mut prev = GENESIS.to_string();
    let mut count = 0i64;
    let mut bad: Option<BadRecord> = None;
    // Read in the same snapshot; only the records a checkpoint names keep their hash in memory.
    let cps =
        sqlx::query("SELECT seq, hash, key_id, mac FROM audit_checkpoints ORDER BY seq").fetch_all(&mut *tx).await?;
    let named: std::collections::HashSet<i64> = cps.iter().map(|c| c.get::<i64, _>(0)).collect();
    let mut hashes: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    'pages: loop {
        let rows = sqlx::query(
            "SELECT seq, ts, actor, action, subject, data, prev_hash, hash FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 5000",
        )
        .bind(expect_seq)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let (rec, data_text) = row_to_record(r);
            count += 1;
            if rec.seq != expect_seq {
                bad = Some(BadRecord {
                    seq: expect_seq,
                    reason: format!("record {expect_seq} is missing (the next record is {})", rec.seq),
                });
                break 'pages;
            }
            if rec.prev_hash != prev {
                bad = Some(BadRecord {
                    seq: rec.seq,
                    reason: format!("record {} does not link to record {} (prev_hash differs)", rec.seq, rec.seq - 1),
                });
                break 'pages;
            }
            let h = record_hash(rec.seq, rec.ts_ms, &rec.actor, &rec.action, &rec.subject, &data_text, &rec.prev_hash);
            if h != rec.hash {
                bad = Some(BadRecord {
                    seq: rec.seq,
                    reason: format!("record {} was altered (its content does not match its hash)", rec.seq),
                });
                break 'pages;
            }
            if named.contains(&rec.seq) {
                hashes.insert(rec.seq, rec.hash.clone());
            }
            prev = rec.hash;
            expect_seq += 1;
        }
    }
    let last_seq = expect_seq - 1;
    if bad.is_none()
        && (last_seq != head_seq || (head_seq > 0 && prev != head_hash) || (head_seq == 0 && head_hash != GENESIS))
    {
        bad = Some(BadRecord {
            seq: last_seq + 1,
            reason: format!(
                "the chain head says record {head_seq} is the last, but the log ends at record {last_seq}{}",
                if last_seq == head_seq { " with a different hash" } else { "" }
            ),
        });
    }
    tx.rollback().await?;
    let n_cp = cps.len() as i64;
    if bad.is_none() {
        if let Some(key) = key {
            let kid = key_id(key);
            for cp in &cps {
                let (seq, hash, cp_kid, mac): (i64, String, String, String) =
                    (cp.get(0), cp.get(1), cp.get(2), cp.get(3));
                if cp_kid != kid {
                    continue; // signed by a rotated-out key: cannot check, not a failure
                }
                if !ct_eq(&checkpoint_mac(key, seq, &hash), &mac) {
                    bad = Some(BadRecord { seq, reason: format!("checkpoint at record {seq} has a bad signature") });
                    break;
                }
                match hashes.get(&seq) {
                    Some(h) if *h == hash => {}
                    Some(_) => {
                        bad =
                            Some(BadRecord { seq, reason: format!("record {seq} differs from its signed checkpoint") });
                        break;
                    }
                    None => {
                        bad = Some(BadRecord {
                            seq: last_seq + 1,
                            reason: format!(
                                "the log was truncated: a signed checkpoint names record {seq}, but the log ends at record {last_seq}"
                            ),
                        });
                        break;
                    }
                }
            }
        }
    }
    Ok(Verification {
        ok: bad.is_none(),
        records: count,
        head_seq,
        checkpoints: n_cp,
        truncation_checked: key.is_some(),
        first_bad: bad,
    })
}

pub fn key_id(key: &[u8]) -> String {
    sha256_hex(key)[..12].to_string()
}

pub fn checkpoint_mac(key: &[u8], seq: i64, hash: &str) -> String {
    hmac_hex(key, format!("iam-jit audit checkpoint\n{seq}\n{hash}").as_bytes())
}

/// Sign the current head unless it is already checkpointed. Returns the checkpointed seq.
pub async fn checkpoint(store: &Store, key: &[u8]) -> Result<Option<i64>, sqlx::Error> {
    let mut w = store.write().await?;
    let sql = format!("SELECT seq, hash FROM audit_head WHERE id = 1{}", w.lock());
    let head = sqlx::query(AssertSqlSafe(sql)).fetch_one(&mut *w.tx).await?;
    let (seq, hash): (i64, String) = (head.get(0), head.get(1));
    if seq == 0 {
        return Ok(None);
    }
    let exists =
        sqlx::query("SELECT seq FROM audit_checkpoints WHERE seq = $1").bind(seq).fetch_optional(&mut *w.tx).await?;
    if exists.is_some() {
        return Ok(None);
    }
    sqlx::query("INSERT INTO audit_checkpoints (seq, hash, key_id, mac, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(seq)
        .bind(&hash)
        .bind(key_id(key))
        .bind(checkpoint_mac(key, seq, &hash))
        .bind(now_ms())
        .execute(&mut *w.tx)
        .await?;
    w.commit().await?;
    Ok(Some(seq))
}
