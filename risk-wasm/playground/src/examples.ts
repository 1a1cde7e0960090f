// Example policies: what the engine catches that a keyword check would not, and what it lets through.

const doc = (statements: object[]): string =>
  JSON.stringify({ Version: "2012-10-17", Statement: statements }, null, 2) + "\n";

export interface Example {
  id: string;
  label: string;
  mode: "score" | "diff";
  policy?: string;
  oldPolicy?: string;
  newPolicy?: string;
}

const passRoleOld = doc([
  {
    Sid: "DeployFunctions",
    Effect: "Allow",
    Action: ["lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:InvokeFunction"],
    Resource: "arn:aws:lambda:eu-west-1:123456789012:function:reports-*",
  },
]);

export const EXAMPLES: Example[] = [
  {
    id: "admin-notaction",
    label: "Admin in disguise (NotAction)",
    mode: "score",
    policy: doc([
      {
        Sid: "EverythingButBilling",
        Effect: "Allow",
        NotAction: ["aws-portal:*", "budgets:*"],
        Resource: "*",
      },
    ]),
  },
  {
    id: "passrole",
    label: "PassRole escalation",
    mode: "score",
    policy: doc([
      {
        Sid: "ReadLogs",
        Effect: "Allow",
        Action: ["logs:GetLogEvents", "logs:FilterLogEvents"],
        Resource: "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/*",
      },
      {
        Sid: "DeployFunctions",
        Effect: "Allow",
        Action: ["lambda:CreateFunction", "lambda:InvokeFunction"],
        Resource: "*",
      },
      {
        Sid: "PassAnyRole",
        Effect: "Allow",
        Action: "iam:PassRole",
        Resource: "*",
      },
    ]),
  },
  {
    id: "read-only",
    label: "Benign read-only",
    mode: "score",
    policy: doc([
      {
        Sid: "ReadReports",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:ListBucket"],
        Resource: ["arn:aws:s3:::example-reports", "arn:aws:s3:::example-reports/*"],
      },
    ]),
  },
  {
    id: "diff-passrole",
    label: "Diff: a change that adds PassRole",
    mode: "diff",
    oldPolicy: passRoleOld,
    newPolicy: doc([
      {
        Sid: "DeployFunctions",
        Effect: "Allow",
        Action: ["lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:InvokeFunction"],
        Resource: "arn:aws:lambda:eu-west-1:123456789012:function:reports-*",
      },
      {
        Sid: "LetDeploysPickARole",
        Effect: "Allow",
        Action: "iam:PassRole",
        Resource: "*",
      },
    ]),
  },
];
