//! Compiled-in catalog of AWS IAM services, actions, resource types and condition keys.
//!
//! The tables are generated at build time by `build.rs` from the committed
//! `data/catalog.json` (see `data/PROVENANCE.md`), so looking something up costs no
//! parsing and no allocation at start-up.
//!
//! ```
//! use iam_catalog::{action_index, prefix_range, service_index, AccessLevel, ACTIONS};
//!
//! let get_object = &ACTIONS[action_index("S3:getobject").unwrap()];
//! assert_eq!(get_object.full_name(), "s3:GetObject");
//! assert_eq!(get_object.access, AccessLevel::Read);
//!
//! // Expand `s3:Get*`.
//! let s3 = service_index("s3").unwrap();
//! let gets = prefix_range(s3, "get");
//! assert!(ACTIONS[gets.start as usize..gets.end as usize]
//!     .iter()
//!     .all(|a| a.name_starts_with_ignore_case("get")));
//! ```
//!
//! Condition keys are compiled in only with the `condition-keys` feature (on by default for
//! this crate, off in the workspace's dependency on it: the engine does not read them).
//!
//! # Ordering invariants
//!
//! - [`SERVICES`] is strictly sorted by [`Service::prefix`] (plain byte order; every
//!   prefix is lowercase ASCII without `:`).
//! - [`ACTIONS`] is sorted by *(service index, lowercase action name)*: each service's
//!   actions form the contiguous range [`Service::actions`], the ranges follow the order
//!   of [`SERVICES`] and together cover all of [`ACTIONS`], and within a service the
//!   lowercase names are strictly increasing.
//! - NOTE: this is *not* the same as sorting by the lowercase full name: `-` and digits
//!   sort before `:`, so `s3-outposts:x` < `s3:x` as strings although `s3` comes before
//!   `s3-outposts` as a prefix. Names are strictly increasing (case folded) within a service
//!   only. Never binary-search [`ACTIONS`] as a whole by name; use [`action_index`], which
//!   searches the service first.
//!
//! # Case-insensitivity
//!
//! IAM matches service prefixes and action names case-insensitively. Every name in the
//! catalog is ASCII, so lookups fold ASCII letters only and never allocate; input with
//! non-ASCII characters matches nothing. Names are stored once, in their canonical case (no
//! lowercase copies: they were a quarter of the WebAssembly module); comparisons fold both
//! sides.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;

/// How AWS classifies what an action does (the Service Authorization Reference's
/// "access level").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessLevel {
    /// Lists resources or their contents.
    List,
    /// Reads resource contents or attributes.
    Read,
    /// Creates, changes or deletes resources.
    Write,
    /// Grants or changes resource permissions (policies, grants, shares).
    PermissionsManagement,
    /// Changes tags only.
    Tagging,
}

impl AccessLevel {
    /// Every level, in declaration (and `Ord`) order.
    pub const ALL: [AccessLevel; 5] = [
        AccessLevel::List,
        AccessLevel::Read,
        AccessLevel::Write,
        AccessLevel::PermissionsManagement,
        AccessLevel::Tagging,
    ];

    /// The level as AWS spells it, e.g. `"Permissions management"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::PermissionsManagement => "Permissions management",
            AccessLevel::Tagging => "Tagging",
        }
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An AWS service, identified by its IAM prefix.
#[derive(Debug)]
pub struct Service {
    /// The IAM prefix, lowercase, e.g. `"s3"`.
    pub prefix: &'static str,
    /// The display name, e.g. `"Amazon S3"`.
    pub name: &'static str,
    /// This service's actions: an index range into [`ACTIONS`], sorted by lowercase name.
    pub actions: Range<u32>,
    /// The service's resource types, sorted by lowercase name.
    pub resource_types: &'static [ResourceType],
    /// Condition keys the service supports (its own and the global `aws:` ones it
    /// lists), sorted case-insensitively.
    #[cfg(feature = "condition-keys")]
    pub condition_keys: &'static [ConditionKey],
}

impl Service {
    /// This service's actions as a slice of [`ACTIONS`].
    pub fn action_slice(&self) -> &'static [Action] {
        &ACTIONS[self.actions.start as usize..self.actions.end as usize]
    }
}

/// A resource type an action can be scoped to.
///
/// Its four strings are stored one after another in a shared text, as an offset and four
/// lengths: references would be load-time relocations (see [`Action`]).
pub struct ResourceType {
    text_at: u32,
    /// Lengths of the name, the ARN pattern, the ARN's service and the resource glob.
    lens: [u16; 4],
    /// Condition keys that apply to resources of this type.
    #[cfg(feature = "condition-keys")]
    pub condition_keys: &'static [&'static str],
}

impl ResourceType {
    fn part(&self, k: usize) -> &'static str {
        let at = self.text_at as usize + self.lens[..k].iter().map(|&l| usize::from(l)).sum::<usize>();
        let part = generated::RESOURCE_TEXT.get(at..at + usize::from(self.lens[k]));
        debug_assert!(part.is_some(), "resource type text offset {at} out of range");
        part.unwrap_or_default()
    }

    /// The name, e.g. `"object"`.
    pub fn name(&self) -> &'static str {
        self.part(0)
    }

    /// The ARN pattern, e.g. `"arn:${Partition}:s3:::${BucketName}/${ObjectName}"`.
    pub fn arn(&self) -> &'static str {
        self.part(1)
    }

    /// The ARN's service field, e.g. `"s3"` (empty when the template is not ARN-shaped).
    pub fn arn_service(&self) -> &'static str {
        self.part(2)
    }

    /// The ARN's resource part with every `${Var}` replaced by `*`, e.g. `"*/*"` for S3
    /// objects (the whole template, so replaced, when it is not ARN-shaped).
    pub fn resource_glob(&self) -> &'static str {
        self.part(3)
    }
}

impl std::fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceType")
            .field("name", &self.name())
            .field("arn", &self.arn())
            .field("arn_service", &self.arn_service())
            .field("resource_glob", &self.resource_glob())
            .finish()
    }
}

/// A condition key a service supports.
#[derive(Debug)]
pub struct ConditionKey {
    /// The key in its canonical case, e.g. `"s3:x-amz-acl"` or `"aws:ResourceTag/${TagKey}"`.
    pub key: &'static str,
    /// The value type, e.g. `"String"`, `"ArrayOfString"`, `"ARN"`, `"Bool"`, `"Numeric"`.
    pub kind: &'static str,
}

/// An IAM action.
///
/// The name and the resource list are offsets into shared tables rather than references:
/// a reference in a static table is a load-time relocation in every position-independent
/// binary (two per action, ~44,000 in all), which the dynamic loader must apply and which
/// makes those pages private copies. Offsets keep the table read-only and 16 bytes a row.
#[derive(Clone, Copy)]
pub struct Action {
    /// Index of the action's service in [`SERVICES`].
    pub service: u16,
    /// The access level.
    pub access: AccessLevel,
    name_len: u8,
    resources_len: u8,
    /// Index of the name's leading word in the verb table (see [`Action::verb`]); the row
    /// stays 16 bytes (the field fills padding).
    verb: u16,
    name_at: u32,
    resources_at: u32,
    /// Action-level condition keys. Keys that apply only when a particular resource type
    /// is used are in [`ActionResource::condition_keys`].
    #[cfg(feature = "condition-keys")]
    pub condition_keys: &'static [&'static str],
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Action")
            .field("service", &self.service().prefix)
            .field("name", &self.name())
            .field("access", &self.access)
            .field("resources", &self.resources())
            .finish()
    }
}

/// A resource type referenced by an action.
#[derive(Debug)]
pub struct ActionResource {
    /// Index into the action's service's [`Service::resource_types`].
    pub resource_type: u16,
    /// Whether the action always needs a resource of this type.
    pub required: bool,
    /// Condition keys that apply to the action on this resource type.
    #[cfg(feature = "condition-keys")]
    pub condition_keys: &'static [&'static str],
}

impl Action {
    /// The action name without prefix, in canonical case, e.g. `"GetObject"`.
    pub fn name(&self) -> &'static str {
        let at = self.name_at as usize;
        let name = generated::ACTION_NAMES.get(at..at + usize::from(self.name_len));
        // The generator writes offsets it just measured; a table that disagrees is a build
        // bug that tests must see, not an action with no name.
        debug_assert!(name.is_some(), "action name offset {at} out of range");
        name.unwrap_or_default()
    }

    /// The resource types the action can be scoped to; empty means the action supports
    /// only `"Resource": "*"`.
    pub fn resources(&self) -> &'static [ActionResource] {
        let at = self.resources_at as usize;
        let res = generated::ACTION_RESOURCE_POOL.get(at..at + usize::from(self.resources_len));
        // An empty list would read as "only `*`" and void grants on named resources: a
        // generator bug must fail the tests (debug builds) rather than under-score.
        debug_assert!(res.is_some(), "action resource offset {at} out of range");
        res.unwrap_or_default()
    }

    /// The full name with the canonical action case, e.g. `"s3:GetObject"`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.service().prefix, self.name())
    }

    /// The action's service.
    pub fn service(&self) -> &'static Service {
        &SERVICES[usize::from(self.service)]
    }

    /// The leading word of the name: its first character and the characters up to the next
    /// uppercase ASCII letter, e.g. `"Get"` of `GetObject`, `"Batch"` of `BatchGetItem`,
    /// `"G"` of API Gateway's `GET`. The name always starts with it.
    pub fn verb(&self) -> &'static str {
        verb_text(self.verb_index())
    }

    /// The index of [`Action::verb`] among the catalog's leading words, `0..VERB_COUNT`:
    /// actions with the same leading word have the same index.
    pub fn verb_index(&self) -> usize {
        usize::from(self.verb)
    }

    /// Whether the action name (without prefix) starts with `prefix`, ASCII case folded:
    /// `name_starts_with_ignore_case("get")` for `GetObject`.
    pub fn name_starts_with_ignore_case(&self, prefix: &str) -> bool {
        let (name, prefix) = (self.name().as_bytes(), prefix.as_bytes());
        name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
    }

    /// Whether `full` (`service:Action`) names this action, ASCII case folded.
    pub fn is_named(&self, full: &str) -> bool {
        let (prefix, name, full) = (self.service().prefix.as_bytes(), self.name().as_bytes(), full.as_bytes());
        full.len() == prefix.len() + 1 + name.len()
            && full[prefix.len()] == b':'
            && full[..prefix.len()].eq_ignore_ascii_case(prefix)
            && full[prefix.len() + 1..].eq_ignore_ascii_case(name)
    }

    /// The resource type an [`ActionResource`] of this action refers to.
    pub fn resource_type(&self, r: &ActionResource) -> &'static ResourceType {
        &self.service().resource_types[usize::from(r.resource_type)]
    }
}

mod shared;
use shared::name_hash;
pub use shared::variables_to_wildcards;

/// The tables generated by `build.rs` from `data/catalog.json`.
// NOTE: without the `condition-keys` feature the key pools are generated but never referenced.
#[allow(dead_code)]
mod generated {
    use super::{AccessLevel, Action, ActionResource, ConditionKey, ResourceType, Service};
    include!(concat!(env!("OUT_DIR"), "/catalog.rs"));
}

pub use generated::{ACTION_COUNT, LICENSE, SOURCE, UPDATED_AT, VERSION};

/// All services, strictly sorted by prefix.
pub static SERVICES: &[Service] = &generated::SERVICE_TABLE;

/// All actions, sorted by (service index, lowercase name); see the crate docs.
pub static ACTIONS: &[Action] = &generated::ACTION_TABLE;

/// How many distinct leading words ([`Action::verb`]) the action names have.
pub const VERB_COUNT: usize = generated::VERB_ENDS.len();

/// The leading word with index `verb` (`0..VERB_COUNT`, see [`Action::verb_index`]); empty
/// when out of range.
pub fn verb_text(verb: usize) -> &'static str {
    let end = generated::VERB_ENDS.get(verb).map_or(0, |&e| usize::from(e));
    let start = verb.checked_sub(1).and_then(|p| generated::VERB_ENDS.get(p)).map_or(0, |&e| usize::from(e));
    generated::VERB_TEXT.get(start..end).unwrap_or_default()
}

/// Compares catalog bytes with input bytes, both folded to ASCII lowercase.
fn cmp_folded(catalog: &[u8], input: &[u8]) -> Ordering {
    for (a, b) in catalog.iter().zip(input) {
        match a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    catalog.len().cmp(&input.len())
}

/// The index in [`SERVICES`] of the service with this prefix, case-insensitively.
pub fn service_index(prefix: &str) -> Option<usize> {
    SERVICES.binary_search_by(|s| cmp_folded(s.prefix.as_bytes(), prefix.as_bytes())).ok()
}

/// The index in [`ACTIONS`] of a full action name such as `"S3:GetObject"`,
/// case-insensitively. One hash and usually one comparison; never allocates.
pub fn action_index(full: &str) -> Option<usize> {
    let table = &generated::ACTION_HASH;
    let mask = table.len() - 1;
    let mut h = name_hash(full.as_bytes()) as usize & mask;
    loop {
        let slot = table[h];
        if slot == 0 {
            return None;
        }
        let i = usize::from(slot - 1);
        if ACTIONS[i].is_named(full) {
            return Some(i);
        }
        h = (h + 1) & mask;
    }
}

/// The index in [`ACTIONS`] of the action `name` (without prefix) of the service at
/// index `service`, case-insensitively. `None` also when `service` is out of range.
pub fn action_index_in(service: usize, name: &str) -> Option<usize> {
    let svc = SERVICES.get(service)?;
    let start = svc.actions.start as usize;
    svc.action_slice().binary_search_by(|a| cmp_folded(a.name().as_bytes(), name.as_bytes())).ok().map(|i| start + i)
}

/// The contiguous range of [`ACTIONS`] holding the actions of the service at index
/// `service` whose lowercase name starts with `name_prefix_lower` (matched
/// case-insensitively), e.g. `"get"` to expand `s3:Get*`. An empty prefix gives all the
/// service's actions; an out-of-range `service` gives an empty range.
pub fn prefix_range(service: usize, name_prefix_lower: &str) -> Range<u32> {
    let Some(svc) = SERVICES.get(service) else {
        return 0..0;
    };
    let wanted = name_prefix_lower.as_bytes();
    // Truncating sorted names to the prefix length keeps them sorted, so the matches
    // are the run where the truncated name equals the prefix.
    let key = |a: &Action| {
        let name = a.name().as_bytes();
        cmp_folded(&name[..name.len().min(wanted.len())], wanted)
    };
    let actions = svc.action_slice();
    let lo = actions.partition_point(|a| key(a) == Ordering::Less);
    let hi = lo + actions[lo..].partition_point(|a| key(a) == Ordering::Equal);
    // Both fit: build.rs checks that the action count fits in a u32.
    svc.actions.start + lo as u32..svc.actions.start + hi as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_comparison_orders_like_lowercase() {
        assert_eq!(cmp_folded(b"getobject", b"GetObject"), Ordering::Equal);
        assert_eq!(cmp_folded(b"GetObject", b"getOBJECT"), Ordering::Equal);
        assert_eq!(cmp_folded(b"GetObject", b"getobjectx"), Ordering::Less);
        assert_eq!(cmp_folded(b"get", b"GetObject"), Ordering::Less);
        assert_eq!(cmp_folded(b"getobject", b"Get"), Ordering::Greater);
        assert_eq!(cmp_folded(b"a", b"B"), Ordering::Less);
        // Non-ASCII input never equals ASCII catalog bytes.
        assert_ne!(cmp_folded(b"k", "\u{212a}".as_bytes()), Ordering::Equal);
    }

    #[test]
    fn access_level_strings() {
        let names: Vec<&str> = AccessLevel::ALL.iter().map(|l| l.as_str()).collect();
        assert_eq!(names, ["List", "Read", "Write", "Permissions management", "Tagging"]);
        assert_eq!(AccessLevel::PermissionsManagement.to_string(), "Permissions management");
        let mut sorted = AccessLevel::ALL;
        sorted.sort();
        assert_eq!(sorted, AccessLevel::ALL);
    }
}
