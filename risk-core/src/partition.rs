//! AWS partitions: which ones exist, and whether an ARN's partition field may name one.
//!
//! The catalog's ARN templates say `${Partition}`; the list of partitions comes from AWS's
//! published partition metadata (`aws`, `aws-cn`, `aws-us-gov`, the ISO partitions and the
//! European Sovereign Cloud). New partitions appear from time to time, so the may-grant
//! test also accepts any other `aws-…` name: a grant in an unknown partition is still a grant.

use crate::glob;

/// Every partition AWS has announced, in the order AWS lists them.
pub const KNOWN: &[&str] =
    &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];

/// May the partition field `field` (a glob) match a real partition? Generous: used to decide
/// what an Allow *may* grant, so an unknown `aws-…` partition counts.
pub fn may_match(field: &str) -> bool {
    if field == "aws" || field == "*" {
        return true; // nearly every ARN in practice
    }
    KNOWN.iter().any(|p| glob::matches(field, p)) || glob::intersects(field, "aws-*")
}

/// Does the partition field `field` match every partition, known or future (`*`, `aws*`)?
/// Strict: used to decide whether a Deny or a principal certainly covers all partitions.
pub fn covers_all(field: &str) -> bool {
    glob::subsumes(field, "aws*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_and_future_ones_may_match() {
        for p in KNOWN {
            assert!(may_match(p), "{p}");
        }
        assert!(may_match("aws-iso-*"));
        assert!(may_match("aws-future"));
        assert!(may_match("*"));
        assert!(!may_match("azure"));
        assert!(!may_match(""));
    }

    #[test]
    fn only_a_star_covers_all() {
        assert!(covers_all("*"));
        assert!(covers_all("aws*"));
        assert!(!covers_all("aws"));
        assert!(!covers_all("aws-*"));
    }
}
