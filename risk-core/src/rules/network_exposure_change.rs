//! IM001 network-exposure-change: change firewalls, routes, DNS or load-balancer listeners.

use super::support::{check_list, resolve_set, Tiers};
use super::{Category, Context, Finding, RuleMeta, IDENTITY};
use crate::actions::ActionSet;
use once_cell::sync::Lazy;

pub static META: RuleMeta = RuleMeta {
    code: "IM001",
    name: "network-exposure-change",
    category: Category::InfrastructureModification,
    max_score: 6,
    changed_in: 3,
    applies_to: IDENTITY,
    summary: "can change security groups, routes, peering, DNS records, listeners or CDN/WAF configuration",
    what: "High-impact network and traffic actions such as `ec2:AuthorizeSecurityGroupIngress`, \
`ec2:CreateRoute`, `ec2:CreateVpcPeeringConnection`, `route53:ChangeResourceRecordSets`, \
`elasticloadbalancing:ModifyListener`, `cloudfront:UpdateDistribution` and `wafv2:UpdateWebACL`.",
    why: "A single change opens a database to the internet, reroutes production traffic or \
disables a firewall, even when scoped to one resource.",
    example: r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:AuthorizeSecurityGroupIngress", "Resource": "*"}]}"#,
    safer: "Make network changes through reviewed infrastructure code; if a role needs them, \
scope them to named security groups, hosted zones or listeners.",
    scoring: "6 on all resources; 5 even on a single named resource (a narrow scope does not \
shrink the impact of a firewall or DNS change).",
};

/// Network and traffic changes.
pub(crate) const NAMES: &[&str] = &[
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:ModifySecurityGroupRules",
    "ec2:CreateRoute",
    "ec2:ReplaceRoute",
    "ec2:DeleteRoute",
    "ec2:CreateNetworkAclEntry",
    "ec2:ReplaceNetworkAclEntry",
    "ec2:DeleteNetworkAclEntry",
    "ec2:AttachInternetGateway",
    "ec2:CreateVpcPeeringConnection",
    "ec2:AcceptVpcPeeringConnection",
    "ec2:ModifyVpcEndpoint",
    "ec2:CreateTransitGatewayRoute",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyNetworkInterfaceAttribute",
    "route53:ChangeResourceRecordSets",
    "route53:CreateHostedZone",
    "route53:DeleteHostedZone",
    "route53domains:TransferDomainToAnotherAwsAccount",
    "route53domains:UpdateDomainNameservers",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "cloudfront:UpdateDistribution",
    "cloudfront:DeleteDistribution",
    "wafv2:UpdateWebACL",
    "wafv2:DeleteWebACL",
    "wafv2:DisassociateWebACL",
    "waf:UpdateWebACL",
    "network-firewall:UpdateFirewallPolicy",
    "network-firewall:UpdateRuleGroup",
    "network-firewall:DeleteFirewall",
    "apigateway:PATCH",
    "globalaccelerator:UpdateListener",
];

static ACTIONS: Lazy<ActionSet> = Lazy::new(|| resolve_set(NAMES));

pub struct Rule;

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn action_names(&self) -> &'static [&'static [&'static str]] {
        &[NAMES]
    }

    fn check(&self, cx: &Context<'_, '_>, out: &mut Vec<Finding>) {
        let tiers = Tiers { all: 6, self_scoped: Some(5), specific: Some(5) };
        check_list(cx.analysis, &META, &ACTIONS, tiers, "change network exposure or traffic routing", "Route network and DNS changes through reviewed infrastructure code, or scope them to named security groups, zones and listeners.", out);
    }
}
