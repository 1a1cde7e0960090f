// Types of the v1 JSON results (risk-core/src/output/v1.rs, diff.rs, explain.rs; docs/output-v1.md).
// Every result is plain JSON data: `JSON.stringify(result, null, 2) + "\n"` is what the CLI prints.

/** Context for scoring; every field is optional. snake_case spellings are accepted too. */
export interface ScoreOptions {
  /** What the requester says the access is for; `read-only` flags any write. */
  accessType?: "read-only" | "read-write" | null;
  /** Requested grant duration in hours (1-8760); long grants raise risky scores. */
  durationHours?: number | null;
  /** Purpose of the request (never changes the score). */
  description?: string | null;
  /** Services the organisation treats as sensitive, e.g. `["dynamodb"]`. */
  extraSensitiveServices?: string[] | null;
  /** Action patterns the organisation treats as high-impact, e.g. `["route53:Change*"]`. */
  extraHighImpactActions?: string[] | null;
  /** Force the policy type instead of detecting it. */
  policyType?: "identity" | "resource" | "trust" | null;
}

/** One problem in a policy or in the options, located by its JSON path. */
export interface Problem {
  /** `Statement[2].Effect`, `options.durationHours`, or `""` for the whole document. */
  path: string;
  message: string;
}

/** What every export throws: an `Error` (name `PolicyError` or `OptionsError`) with details. */
export interface RiskError extends Error {
  name: "PolicyError" | "OptionsError";
  /** Never empty. */
  problems: Problem[];
  /** 1-based position of a JSON syntax error in the policy text (absent otherwise). */
  line?: number;
  column?: number;
  /** Which policy of a `diff` failed. */
  side?: "old" | "new";
}

export type Tier = "low" | "medium" | "high";
export type Severity = "info" | "low" | "medium" | "high" | "critical";

export interface Finding {
  /** Stable rule code, e.g. `PE002`. */
  rule: string;
  /** Rule name, e.g. `passrole-escalation`. */
  name: string;
  category: string;
  severity: Severity;
  /** The score this finding alone gives the policy. */
  score: number;
  /** Index of the first statement involved (0-based). */
  statement: number | null;
  statements: number[];
  sid: string | null;
  actions: string[];
  resources: string[];
  conditions: unknown | null;
  message: string;
  suggestion: string;
  /** Privilege-escalation path ids (docs/escalation-paths.md). */
  paths: string[];
}

export interface ServiceAccess {
  /** `List`, `Read`, `Write`, `Permissions management`, `Tagging` -> number of actions. */
  access_levels: Record<string, number>;
  catalog_actions: number;
  actions_on_all_resources: number;
}

export interface AccessSummary {
  services: number;
  actions: number;
  actions_on_all_resources: number;
  by_service: Record<string, ServiceAccess>;
}

export interface Versions {
  engine: string;
  rules: string;
  catalog: string;
  catalog_source: string;
}

/** The v1 report: what `iam-risk-score FILE --format json` prints for one policy. */
export interface Report {
  score: number;
  tier: Tier;
  would_auto_approve_at_threshold_5: boolean;
  factors: string[];
  suggestions: string[];
  llm_narrative: string | null;
  analyzer: string;
  policy_fingerprint: string;
  api_version: "v1";
  policy_type: "identity" | "resource" | "trust";
  findings: Finding[];
  categories: Record<string, { max_score: number; findings: number }>;
  access_summary: AccessSummary;
  context: { access_type: string | null; duration_hours: number | null };
  versions: Versions;
}

/** Service prefix -> access level -> action names. */
export type ActionsByService = Record<string, Record<string, string[]>>;

/** What `iam-risk-score diff OLD NEW --format json` prints. */
export interface PolicyDiff {
  old_score: number;
  new_score: number;
  risk_delta: number;
  old_tier: Tier;
  new_tier: Tier;
  added_actions: ActionsByService;
  added_actions_total: number;
  removed_actions: ActionsByService;
  removed_actions_total: number;
  new_findings: Finding[];
  resolved_findings: Finding[];
  old_fingerprint: string;
  new_fingerprint: string;
  api_version: "v1";
  versions: Versions;
}

export interface RuleDoc {
  code: string;
  name: string;
  category: string;
  severity: Severity;
  max_score: number;
  applies_to: string[];
  summary: string;
  what: string;
  why: string;
  example: string;
  safer: string;
  scoring: string;
}

export interface ActionDoc {
  action: string;
  access_level: string;
  resource_types: string[];
}

export type Explanation =
  | ({ kind: "rule" } & RuleDoc)
  | {
      kind: "pattern";
      pattern: string;
      total: number;
      /** service -> access level -> actions */
      services: Record<string, Record<string, ActionDoc[]>>;
    };

export interface CatalogInfo {
  services: number;
  actions: number;
  source: string;
  version: string;
  updated_at: string;
  license: string;
}
