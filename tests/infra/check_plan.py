#!/usr/bin/env python3
"""Checks over `terraform show -json` of the plans tests/infra/plan.sh made: one JSON file per
environment (dev.json, staging.json, prod.json), dev-existing-pool.json (dev on an existing
user pool), staging-custom-domain.json (a domain served by API Gateway) and bootstrap.json
(infra/bootstrap). Checked, per plan:

- tags: every tag key and value matches AWS's tag pattern and lengths;
- metrics: every alarm and dashboard widget uses a metric AWS documents for its namespace,
  with documented dimensions (DOCUMENTED below), or one of the stack's own metric filters;
- alarms on the failure path have data: every metric filter has default_value 0;
- runbooks: every alarm, widget and Logs Insights query docs/runbooks names exists;
- Cognito: public SignUp is closed on the created pool, and the app client cannot write
  contacts or their verified flags;
- IAM: each function's policies allow what it needs and nothing else (see IAM below);
- the event pipeline: the events table's stream feeds the events function's live alias
  through one event source mapping that retries from the failed record, splits failing
  batches and gives up into a dead-letter queue, with alarms on the queue's depth and the
  consumer's iterator age;
- sign-up: its three routes on the public API, AUTHKIT_SIGNUP (default off) told to exactly
  the functions serving them, the tenant API's counters for creations;
- the CloudFront front: origin secret header, its SHA-256 and the client-IP source in the
  functions, Authorization in the cache key, CloudFront-Viewer-Address and every header
  the Rust code reads forwarded; with a custom domain and no front, no execute-api endpoint;
- functions: every environment variable is documented in docs/configuration.md, every
  function is published and invoked through its `live` alias, every role carries the
  permissions boundary;
- SNS SMS preferences (one per account and region) are managed by exactly one environment;
- bootstrap: deploy roles trusted only by this repository's GitHub environments, and able
  to create only roles that carry the boundary.

Prints `plan checks: N passed, M failed` and exits non-zero on any failure."""
import hashlib
import json
import os
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
class Unknown:
    """A value known only after apply."""

    def __repr__(self):
        return "(known after apply)"


UNKNOWN = Unknown()
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))


# Metrics AWS documents, by namespace: metric => the dimension sets it is published with.
#   Lambda:      https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
#   HTTP APIs:   https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
#   DynamoDB:    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html
#   SNS:         https://docs.aws.amazon.com/sns/latest/dg/sns-monitoring-using-cloudwatch.html
#   SES:         https://docs.aws.amazon.com/ses/latest/dg/monitor-sending-activity.html
#   SQS:         https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
FUNCTION = [{"FunctionName"}, {"FunctionName", "Resource"}, {"FunctionName", "ExecutedVersion"}]
HTTP_API = [{"ApiId"}, {"ApiId", "Stage"}, {"ApiId", "Stage", "Route"}]
TABLE = [{"TableName"}, {"TableName", "GlobalSecondaryIndexName"}]
TABLE_OPERATION = [{"TableName", "Operation"}]
ACCOUNT = [set()]
DOCUMENTED = {
    "AWS/Lambda": {
        "Errors": FUNCTION, "Invocations": FUNCTION, "Duration": FUNCTION, "Throttles": FUNCTION,
        "ConcurrentExecutions": FUNCTION + ACCOUNT,
        # Stream event sources only: how far behind the stream a function's batches are.
        "IteratorAge": FUNCTION,
    },
    "AWS/ApiGateway": {m: HTTP_API for m in ["4xx", "5xx", "Count", "Latency", "IntegrationLatency", "DataProcessed"]},
    "AWS/DynamoDB": {
        "ReadThrottleEvents": TABLE, "WriteThrottleEvents": TABLE,
        "ConsumedReadCapacityUnits": TABLE, "ConsumedWriteCapacityUnits": TABLE,
        "ThrottledRequests": TABLE_OPERATION, "SystemErrors": TABLE_OPERATION,
        "SuccessfulRequestLatency": TABLE_OPERATION,
    },
    "AWS/SNS": {
        # SMS published straight to a number: dimension PhoneNumber = PhoneNumberDirect.
        "NumberOfNotificationsFailed": [{"PhoneNumber"}, {"TopicName"}],
        "NumberOfNotificationsDelivered": [{"PhoneNumber"}, {"TopicName"}],
        "SMSMonthToDateSpentUSD": ACCOUNT,
        "SMSSuccessRate": ACCOUNT + [{"Country"}, {"SMSType"}],
    },
    "AWS/SES": {m: ACCOUNT for m in ["Send", "Delivery", "Bounce", "Complaint", "Reject",
                                       "Reputation.BounceRate", "Reputation.ComplaintRate"]},
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible": [{"QueueName"}]},
}

# IAM: what each function may read. The pepper goes only to the functions that hash codes,
# tokens or API keys; discovery reads the signing keys; health, define-auth-challenge and
# pre-sign-up read no secret at all (docs/deploy.md "What each function may do").
PEPPER_READERS = {"authkit-start", "authkit-verify", "authkit-resend", "authkit-token", "authkit-devices", "authkit-users",
                  "authkit-cognito-sign-up", "authkit-create-auth-challenge", "authkit-verify-auth-challenge",
                  "authkit-tenant-api", "authkit-admin"}
EXPECTED_SECRETS = {fn: {"keys", "pepper"} for fn in PEPPER_READERS}
EXPECTED_SECRETS.update({"authkit-discovery": {"keys"}, "authkit-health": set(), "authkit-events": set(),
                         "authkit-define-auth-challenge": set(), "authkit-pre-sign-up": set()})
SECRET_ENV = {"keys": "AUTHKIT_KEYS_SECRET_ID", "pepper": "AUTHKIT_PEPPER_SECRET_ID"}
NO_TABLES = {"authkit-discovery", "authkit-define-auth-challenge", "authkit-pre-sign-up"}
EXPECTED_POOL_ACTIONS = {
    "authkit-cognito-sign-up": {"AdminCreateUser", "AdminSetUserPassword", "AdminUpdateUserAttributes"},
    "authkit-verify-auth-challenge": {"AdminUpdateUserAttributes"},
}
DIRECTORY_WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
# The event pipeline (decision 70): functions that change state write the change and its
# events in one transaction, the events into the events table; only the events consumer
# reads that table's stream, and it writes the audit log and nothing else (puts only).
EVENTS_CONSUMER = "authkit-events"
EVENT_WRITERS = PEPPER_READERS
STREAM_ACTIONS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
EVENTS_DEAD_LETTERS = "authkit-{env}-events-dead-letters"
OPERATOR_RECORDS = {"tenant#*", "apikey#*"}
# The functions that write tenant and API-key records (the operator API, the tenant API):
# of the directory, they may touch those and keys' last uses only (issue 13).
REGISTRY_FUNCTIONS = {"authkit-admin", "authkit-tenant-api"}
# Who sends what: challenges by SMS and email; member invitations by email only.
SMS_SENDERS = {"authkit-start", "authkit-resend", "authkit-cognito-sign-up", "authkit-create-auth-challenge"}
EMAIL_SENDERS = SMS_SENDERS | REGISTRY_FUNCTIONS
REGISTRY_RECORDS = OPERATOR_RECORDS | {"*#keyuse"}
# Members are the console tenant's users: the registry functions read (only read) their
# accounts and sessions to judge a member's token (decision 130).
CONSOLE_RECORDS = {"console#*"}
CONSOLE_READS = {"dynamodb:GetItem", "dynamodb:Query"}
# Member routes are served by the tenant-API function, which may write members.
MEMBER_ROUTES = {"GET /v1/members", "POST /v1/members", "PATCH /v1/members/{id}", "DELETE /v1/members/{id}",
                 "GET /v1/invitations", "DELETE /v1/invitations/{id}",
                 "GET /v1/memberships", "POST /v1/memberships/accept"}
ADMIN_FUNCTION = "authkit-admin"
# Self-service sign-up (decision 150): each step's route and the function serving it; these
# functions, and only these, are told AUTHKIT_SIGNUP (the stack's `signup`, default off).
SIGNUP_ROUTES = {"POST /v1/signup": "authkit-start", "POST /v1/signup/verify": "authkit-verify",
                 "POST /v1/signup/tenant": "authkit-tenant-api"}
# Headers the Rust code reads that the front adds itself (or API Gateway does).
# content-length: CloudFront and API Gateway set it from the body they pass on.
HEADERS_ADDED_BY_AWS = {"x-forwarded-for", "x-amzn-requestid", "x-amz-apigw-id", "x-request-id", "host", "x-authkit-origin",
                        "content-length"}
CONTACT_ATTRIBUTES = {"email", "phone_number", "email_verified", "phone_number_verified"}
RUNBOOKS = ["rotate-keys", "sms-pumping", "dynamodb-throttling", "ses-bounces", "leaked-credentials",
            "scale-up", "troubleshoot-sign-in", "events-pipeline"]


def merged(after, unknown):
    """The planned value, with UNKNOWN where Terraform knows it only after apply."""
    if unknown is True:
        return UNKNOWN
    if isinstance(after, dict):
        keys = set(after) | (set(unknown) if isinstance(unknown, dict) else set())
        return {k: merged(after.get(k), unknown.get(k) if isinstance(unknown, dict) else None) for k in keys}
    if isinstance(after, list):
        marks = unknown if isinstance(unknown, list) else []
        return [merged(v, marks[i] if i < len(marks) else None) for i, v in enumerate(after)]
    return after


def split_address(address):
    """module.a.module.b.type.name["key"] => ("module.a.module.b", "type.name", "key")."""
    match = re.match(r'^((?:module\.[\w-]+(?:\[[^\]]*\])?\.)*)(data\.)?([\w-]+\.[\w-]+)(?:\[(.*)\])?$', address)
    prefix, data, resource, key = match.groups()
    key = json.loads(key) if key else None
    return prefix.rstrip("."), (data or "") + resource, key


class Plan:
    def __init__(self, label, doc):
        self.label = label
        self.env = label.split("-")[0]
        self.doc = doc
        self.resources = {}  # address => (type, key, values), what exists after apply
        self.data = {}
        for change in doc.get("resource_changes", []):
            values = merged(change["change"].get("after"), change["change"].get("after_unknown"))
            if change["mode"] == "data":
                self.data[change["address"]] = values
            elif "delete" not in change["change"]["actions"] or "create" in change["change"]["actions"]:
                self.resources[change["address"]] = (change["type"], change.get("index"), values)
        self._read_state(doc.get("prior_state", {}).get("values", {}).get("root_module", {}))

    def _read_state(self, module):
        for resource in module.get("resources", []):
            if resource["mode"] == "data" and resource["address"] not in self.data:
                self.data[resource["address"]] = resource["values"]
        for child in module.get("child_modules", []):
            self._read_state(child)

    def of_type(self, kind):
        return [(address, key, values) for address, (t, key, values) in self.resources.items() if t == kind]

    def config_expressions(self, address):
        """A resource's argument expressions, from the plan's configuration (a nested
        block's are a list of such maps)."""
        prefix, resource, _ = split_address(address)
        module = self.doc["configuration"]["root_module"]
        for part in [p for p in prefix.split(".") if p and p != "module"]:
            module = module["module_calls"][re.sub(r"\[.*\]$", "", part)]["module"]
        for config in module.get("resources", []):
            if config["address"] == resource:
                return config.get("expressions", {})
        return {}

    def config_references(self, address, attribute):
        """The references of a resource argument's expression, from the plan's configuration."""
        return self.config_expressions(address).get(attribute, {}).get("references", [])

    def policy_statements(self, address, values, attribute="policy"):
        """Statements of a policy argument (a role policy's policy, a role's trust): its
        JSON when known, else the inputs of the aws_iam_policy_document it is built from."""
        if values.get(attribute) is not UNKNOWN and values.get(attribute):
            return [normal_statement(s) for s in as_list(json.loads(values[attribute])["Statement"])]
        prefix, _, key = split_address(address)
        for reference in self.config_references(address, attribute):
            if not reference.startswith("data.aws_iam_policy_document."):
                continue
            if reference.endswith("[each.key]") or "[" not in reference:
                source = re.sub(r"\[.*\]$", "", reference) + (f"[{json.dumps(key)}]" if key is not None else "")
            else:
                source = reference
            document = self.data.get((prefix + "." if prefix else "") + source)
            if document:
                return [normal_statement_input(s) for s in document.get("statement", [])]
        return None


def as_list(value):
    if value is None or value is UNKNOWN:
        return [] if value is None else [UNKNOWN]
    return value if isinstance(value, list) else [value]


def normal_statement(raw):
    conditions = set()
    for test, variables in (raw.get("Condition") or {}).items():
        for variable, values in variables.items():
            conditions.add((test, variable, tuple(sorted(as_list(values)))))
    return {"sid": raw.get("Sid", ""), "effect": raw.get("Effect", "Allow"), "actions": set(as_list(raw.get("Action"))),
            "resources": as_list(raw.get("Resource")), "conditions": conditions}


def normal_statement_input(raw):
    conditions = {(c["test"], c["variable"], tuple(sorted(v for v in c["values"] if v is not UNKNOWN)))
                  for c in raw.get("condition") or []}
    return {"sid": raw.get("sid") or "", "effect": raw.get("effect") or "Allow", "actions": set(raw.get("actions") or []),
            "resources": list(raw.get("resources") or []), "conditions": conditions}


# ---------------------------------------------------------------------------------------
def check_tags(plan):
    allowed = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)
    bad = []
    for address, (_, _, values) in plan.resources.items():
        for field in ["tags", "tags_all"]:
            tags = values.get(field)
            if not isinstance(tags, dict):
                continue
            for key, value in tags.items():
                if value is UNKNOWN:
                    continue
                if not (allowed.match(key) and allowed.match(value) and 0 < len(key) <= 128 and len(value) <= 256
                        and not key.lower().startswith("aws:")):
                    bad.append(f"{address} {key}={value!r}")
    check(f"{plan.label}: every tag matches AWS's tag pattern (letters, digits, spaces, _ . : / = + - @)", not bad, bad[:5])


def metric_uses(plan):
    """(where, namespace, metric, dimension names) of every alarm and dashboard widget."""
    uses = []
    for address, _, alarm in plan.of_type("aws_cloudwatch_metric_alarm"):
        if alarm.get("metric_name"):
            uses.append((alarm["alarm_name"], alarm["namespace"], alarm["metric_name"], set((alarm.get("dimensions") or {}).keys())))
        for query in alarm.get("metric_query") or []:
            for metric in query.get("metric") or []:
                dims = metric.get("dimensions")
                uses.append((alarm["alarm_name"], metric["namespace"], metric["metric_name"],
                             None if dims is UNKNOWN else set((dims or {}).keys())))
    for title, metric in dashboard_metrics(plan):
        uses.append((f"widget {title!r}", *metric))
    return uses


def dashboard_widgets(plan):
    widgets = []
    for address, _, dashboard in plan.of_type("aws_cloudwatch_dashboard"):
        body = dashboard.get("dashboard_body")
        if body is UNKNOWN:
            check(f"{plan.label}: {address} is known when planned", False, "dashboard_body is unknown")
            continue
        widgets += json.loads(body)["widgets"]
    return widgets


def dashboard_metrics(plan):
    for widget in dashboard_widgets(plan):
        properties = widget.get("properties", {})
        previous = []
        for row in properties.get("metrics", []):
            labels = [item for item in row if not isinstance(item, dict)]
            # "." repeats the entry above it (CloudWatch's dashboard body shorthand).
            labels = [previous[i] if label == "." and i < len(previous) else label for i, label in enumerate(labels)]
            previous = labels
            dimensions = set(labels[2::2])
            yield properties.get("title", "?"), (labels[0], labels[1], dimensions)


def check_metrics(plan):
    filters = {(f["metric_transformation"][0]["namespace"], f["metric_transformation"][0]["name"])
               for _, _, f in plan.of_type("aws_cloudwatch_log_metric_filter")}
    unknown, undocumented = [], []
    for where, namespace, metric, dimensions in metric_uses(plan):
        if namespace.startswith("AWS/"):
            documented = DOCUMENTED.get(namespace, {}).get(metric)
            if documented is None:
                undocumented.append(f"{where}: {namespace} {metric}")
            elif dimensions is None:
                unknown.append(f"{where}: {namespace} {metric}")
            elif dimensions not in documented:
                undocumented.append(f"{where}: {namespace} {metric} by {sorted(dimensions)}")
        elif (namespace, metric) not in filters:
            undocumented.append(f"{where}: {namespace} {metric} (no metric filter publishes it)")
    check(f"{plan.label}: alarms and widgets use documented metrics and dimensions (or the stack's own filters)",
          not undocumented, undocumented[:5])
    check(f"{plan.label}: alarm dimensions are known when planned", not unknown, unknown[:5])


def check_filters_have_data(plan):
    filters = plan.of_type("aws_cloudwatch_log_metric_filter")
    missing = [address for address, _, f in filters if f["metric_transformation"][0].get("default_value") != "0"]
    check(f"{plan.label}: every metric filter emits 0 for the lines it does not match (alarms have data)",
          bool(filters) and not missing, missing[:5] or "no metric filters")


def runbook_references():
    pattern = re.compile(r"\*\*(Alarm|Widget|Query)\*\*:? `([^`]+)`")
    found = {}
    for name in RUNBOOKS:
        path = ROOT / "docs/runbooks" / f"{name}.md"
        found[name] = pattern.findall(path.read_text()) if path.exists() else None
    return found


def check_runbooks_exist():
    for runbook, references in runbook_references().items():
        check(f"docs/runbooks/{runbook}.md exists and names the alarms, widgets or queries to look at", bool(references))


def check_runbooks(plan):
    alarms = {a["alarm_name"] for _, _, a in plan.of_type("aws_cloudwatch_metric_alarm")}
    widgets = {w.get("properties", {}).get("title") for w in dashboard_widgets(plan)}
    queries = {q["name"] for _, _, q in plan.of_type("aws_cloudwatch_query_definition")}
    names = {"Alarm": alarms, "Widget": widgets, "Query": queries}
    for runbook, references in runbook_references().items():
        if not references:
            continue
        missing = [f"{kind} {name}" for kind, name in references
                   if name.replace("<env>", plan.env) not in names[kind]]
        check(f"{plan.label}: docs/runbooks/{runbook}.md names only what the plan has", not missing, missing)


def check_cognito(plan):
    for address, _, pool in plan.of_type("aws_cognito_user_pool"):
        config = pool.get("admin_create_user_config")
        closed = isinstance(config, list) and bool(config) and config[0].get("allow_admin_create_user_only") is True
        check(f"{plan.label}: {address} closes public SignUp (allow_admin_create_user_only)", closed, config)
    clients = plan.of_type("aws_cognito_user_pool_client")
    check(f"{plan.label}: an app client is planned", bool(clients))
    for address, _, client in clients:
        writable = client.get("write_attributes")
        writable = set(writable) if isinstance(writable, list) else set()
        check(f"{plan.label}: {address} cannot write contacts or verified flags (write_attributes set, without them)",
              bool(writable) and not writable & CONTACT_ATTRIBUTES, sorted(writable) or "empty: every attribute writable")
        check(f"{plan.label}: {address} names its read_attributes", bool(client.get("read_attributes")))
    if plan.label.endswith("existing-pool"):
        check(f"{plan.label}: no user pool is created on an existing one", not plan.of_type("aws_cognito_user_pool"))
        sign_up = functions(plan).get("authkit-cognito-sign-up")
        env = environment(sign_up[1]) if sign_up else None
        pool = (plan.doc.get("variables", {}).get("existing_user_pool_id") or {}).get("value")
        check(f"{plan.label}: the sign-up function creates users in the existing pool",
              bool(env) and env.get("AUTHKIT_COGNITO_USER_POOL_ID") == pool, env and env.get("AUTHKIT_COGNITO_USER_POOL_ID"))


def functions(plan):
    """function key => (address, values) of every Lambda function."""
    return {key: (address, values) for address, key, values in plan.of_type("aws_lambda_function")}


def environment(fn):
    """A function's environment, or None while unknown: one value known only after apply
    (the id of a user pool this plan creates) hides the whole map."""
    variables = ((fn.get("environment") or [{}])[0]).get("variables")
    return None if variables is UNKNOWN else variables or {}


def check_environments_known(plan):
    creates_pool = bool(plan.of_type("aws_cognito_user_pool"))
    unknown = [key for key, (_, fn) in functions(plan).items() if environment(fn) is None
               and not (creates_pool and key == "authkit-cognito-sign-up")]
    check(f"{plan.label}: every function's environment is known when planned (the sign-up function's "
          "is checked where the pool exists already)", not unknown, unknown)


def statements_of(plan, key):
    statements, unreadable = [], []
    for address, policy_key, values in plan.of_type("aws_iam_role_policy"):
        if policy_key != key:
            continue
        found = plan.policy_statements(address, values)
        if found is None:
            unreadable.append(address)
        else:
            statements += found
    return statements, unreadable


def allowed(statements, prefix):
    return [s for s in statements if s["effect"] == "Allow" and any(a.startswith(prefix) for a in s["actions"])]


def check_iam(plan):
    stack_tables = {t["name"] for t in json.loads((ROOT / "crates/dynamodb/tables.json").read_text())["tables"]}
    table_arn = re.compile(rf"^arn:aws:dynamodb:[\w-]+:\d+:table/authkit-{plan.env}-(\w+)$")
    stream_arn = re.compile(rf"^arn:aws:dynamodb:[\w-]+:\d+:table/authkit-{plan.env}-(\w+)/stream/\*$")
    queue_arn = re.compile(rf"^arn:aws:sqs:[\w-]+:\d+:({EVENTS_DEAD_LETTERS.format(env=plan.env)})$")
    secret_arn = re.compile(rf"^arn:aws:secretsmanager:[\w-]+:\d+:secret:authkit-{plan.env}/(\w+)-\?{{6}}$")
    pools = [p.get("arn") for _, _, p in plan.of_type("aws_cognito_user_pool")]
    existing_id = (plan.doc.get("variables", {}).get("existing_user_pool_id") or {}).get("value") or ""
    for key, (address, fn) in sorted(functions(plan).items()):
        statements, unreadable = statements_of(plan, key)
        check(f"{plan.label}: {key}: every policy can be read from the plan", not unreadable, unreadable)
        env = environment(fn)

        secrets = set()
        for s in allowed(statements, "secretsmanager:"):
            for resource in s["resources"]:
                match = secret_arn.match(resource) if isinstance(resource, str) else None
                secrets.add(match.group(1) if match else repr(resource))
        expected = EXPECTED_SECRETS.get(key, set())
        check(f"{plan.label}: {key}: reads exactly the secrets {sorted(expected)}", secrets == expected, sorted(secrets))
        if env is not None:
            env_secrets = {name for name, var in SECRET_ENV.items() if var in env}
            check(f"{plan.label}: {key}: is told exactly those secrets' ids", env_secrets == expected, sorted(env_secrets))

        kms = allowed(statements, "kms:")
        kms_actions = set().union(*(s["actions"] for s in kms)) if kms else set()
        check(f"{plan.label}: {key}: KMS only decrypts (no GenerateDataKey)", kms_actions <= {"kms:Decrypt"}, sorted(kms_actions))
        via = set()
        for s in kms:
            services = [c[2] for c in s["conditions"] if c[1] == "kms:ViaService"]
            via |= {v.split(".")[0] for values in services for v in values}
            check(f"{plan.label}: {key}: KMS statement {s['sid']!r} is limited by kms:ViaService", bool(services))
        needs_via = ({"secretsmanager"} if expected else set())
        dynamo = allowed(statements, "dynamodb:")
        if dynamo:
            needs_via.add("dynamodb")
        check(f"{plan.label}: {key}: KMS through exactly the services it reads", via == needs_via, f"{sorted(via)} != {sorted(needs_via)}")

        tables, streams = {}, {}
        for s in dynamo:
            if s["actions"] == {"dynamodb:ListStreams"}:
                continue  # account-wide, no resource ARN; checked with the streams below
            for resource in s["resources"]:
                streamed = stream_arn.match(resource) if isinstance(resource, str) else None
                if streamed:
                    streams.setdefault(streamed.group(1), set()).update(s["actions"])
                    continue
                match = table_arn.match(resource) if isinstance(resource, str) else None
                name = match.group(1) if match else repr(resource)
                tables.setdefault(name, set()).update(s["actions"])
        check(f"{plan.label}: {key}: only this stack's tables", set(tables) <= stack_tables, sorted(set(tables) - stack_tables))
        list_streams = any(s["actions"] == {"dynamodb:ListStreams"} for s in dynamo)
        if key == EVENTS_CONSUMER:
            check(f"{plan.label}: {key}: reads the events table's stream, and no other",
                  streams == {"events": STREAM_ACTIONS} and list_streams, streams)
            check(f"{plan.label}: {key}: writes the audit log (puts only, queries to find an erased user's entries) and touches no other table",
                  tables == {"audit": {"dynamodb:PutItem", "dynamodb:BatchWriteItem", "dynamodb:Query"}}, tables)
        else:
            check(f"{plan.label}: {key}: reads no stream", not streams and not list_streams, streams)
            audit_writes = sorted(DIRECTORY_WRITES & tables.get("audit", set()))
            check(f"{plan.label}: {key}: writes no audit entry (only the events consumer does)", not audit_writes, audit_writes)
        if key in EVENT_WRITERS:
            event_writes = tables.get("events", set())
            check(f"{plan.label}: {key}: writes its events to the events table (in its changes' transactions)",
                  {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"} <= event_writes, sorted(event_writes))
        sqs = allowed(statements, "sqs:")
        queues = {(queue_arn.match(r).group(1) if isinstance(r, str) and queue_arn.match(r) else repr(r))
                  for s in sqs for r in s["resources"]}
        sqs_actions = set().union(*(s["actions"] for s in sqs)) if sqs else set()
        expected_queues = {EVENTS_DEAD_LETTERS.format(env=plan.env)} if key == EVENTS_CONSUMER else set()
        check(f"{plan.label}: {key}: sends to exactly the queues {sorted(expected_queues)} (SendMessage only)",
              queues == expected_queues and sqs_actions <= {"sqs:SendMessage"}, f"{sorted(queues)} {sorted(sqs_actions)}")
        if key in NO_TABLES:
            check(f"{plan.label}: {key}: no table access", not tables, sorted(tables))
        emails = allowed(statements, "ses:")
        check(f"{plan.label}: {key}: sends email (SES SendEmail, this stack's identity and configuration set) "
              f"{'only' if key in EMAIL_SENDERS else 'never'}",
              all(s["actions"] == {"ses:SendEmail"} for s in emails) and bool(emails) == (key in EMAIL_SENDERS),
              [s["sid"] for s in emails])
        sms = allowed(statements, "sns:")
        check(f"{plan.label}: {key}: publishes SMS {'(never to a topic)' if key in SMS_SENDERS else 'never'}",
              bool(sms) == (key in SMS_SENDERS), [s["sid"] for s in sms])
        if key == "authkit-users":
            erasing = tables.get("challenges", set())
            check(f"{plan.label}: {key}: queries and deletes challenges (erasure takes a user's pending ones, decision 120)",
                  {"dynamodb:Query", "dynamodb:DeleteItem"} <= erasing, sorted(erasing))
        if key == "authkit-health":
            ping = [s for s in dynamo if ("ForAllValues:StringEquals", "dynamodb:LeadingKeys", ("ping",)) in s["conditions"]]
            check(f"{plan.label}: {key}: only GetItem of the audit table's ping item",
                  tables == {"audit": {"dynamodb:GetItem"}} and len(ping) == len(dynamo), tables)
        wildcard = [a for s in statements if s["effect"] == "Allow" for a in s["actions"] if "*" in a]
        check(f"{plan.label}: {key}: no wildcard actions", not wildcard, wildcard)
        star = [s["sid"] for s in statements if s["effect"] == "Allow" and "*" in s["resources"]
                and not s["actions"] <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "sns:Publish", "dynamodb:ListStreams"}]
        check(f"{plan.label}: {key}: \"*\" resources only where AWS has no resource ARN (X-Ray, SMS, ListStreams)", not star, star)

        directory_writes = DIRECTORY_WRITES & tables.get("directory", set())
        if key in REGISTRY_FUNCTIONS:
            on_directory = [s for s in dynamo if any(isinstance(r, str) and r.endswith(f"table/authkit-{plan.env}-directory") for r in s["resources"])]
            console_reads = [s for s in on_directory if any(c[0] == "ForAllValues:StringLike" and c[1] == "dynamodb:LeadingKeys"
                                                            and set(c[2]) <= CONSOLE_RECORDS for c in s["conditions"])]
            check(f"{plan.label}: {key}: reads the console tenant's users and sessions, never writes them",
                  bool(console_reads) and all(s["actions"] <= CONSOLE_READS for s in console_reads),
                  [sorted(s["actions"]) for s in console_reads])
            on_directory = [s for s in on_directory if s not in console_reads]
            bounded = all(any(c[0] == "ForAllValues:StringLike" and c[1] == "dynamodb:LeadingKeys" and set(c[2]) <= REGISTRY_RECORDS
                              for c in s["conditions"]) for s in on_directory)
            check(f"{plan.label}: {key}: writes tenant and API-key records, and of the directory nothing else "
                  f"(LeadingKeys within {sorted(REGISTRY_RECORDS)})", bool(on_directory) and bool(directory_writes) and bounded,
                  [s["sid"] for s in on_directory])
        elif directory_writes:
            denies = [s for s in statements if s["effect"] == "Deny"
                      and DIRECTORY_WRITES <= s["actions"]
                      and any(isinstance(r, str) and r.endswith(f"table/authkit-{plan.env}-directory") for r in s["resources"])
                      and any(c[0] == "ForAnyValue:StringLike" and c[1] == "dynamodb:LeadingKeys" and OPERATOR_RECORDS <= set(c[2])
                              for c in s["conditions"])]
            check(f"{plan.label}: {key}: cannot write tenant or API-key records (Deny on LeadingKeys tenant#*, apikey#*)", bool(denies))

        pool_statements = allowed(statements, "cognito-idp:")
        pool_actions = {a.split(":", 1)[1] for s in pool_statements for a in s["actions"]}
        expected_pool = EXPECTED_POOL_ACTIONS.get(key, set())
        check(f"{plan.label}: {key}: user-pool actions are exactly {sorted(expected_pool)}", pool_actions == expected_pool, sorted(pool_actions))
        resources = [r for s in pool_statements for r in s["resources"]]
        if existing_id:
            right = all(isinstance(r, str) and r.endswith(f":userpool/{existing_id}") for r in resources)
        else:
            right = all(r is UNKNOWN or r in pools for r in resources)
        check(f"{plan.label}: {key}: user-pool actions on this stack's pool only", right and len(resources) == (1 if expected_pool else 0), resources)


def module_call_references(plan, module, variable):
    """The references of a root module call's argument, from the plan's configuration."""
    call = plan.doc["configuration"]["root_module"].get("module_calls", {}).get(module, {})
    return call.get("expressions", {}).get(variable, {}).get("references", [])


def check_event_pipeline(plan):
    mappings = plan.of_type("aws_lambda_event_source_mapping")
    check(f"{plan.label}: one event source mapping (the events table's stream)", len(mappings) == 1, [a for a, _, _ in mappings])
    queues = {values.get("name"): (address, values) for address, _, values in plan.of_type("aws_sqs_queue")}
    dead_letters = EVENTS_DEAD_LETTERS.format(env=plan.env)
    queue = queues.get(dead_letters, (None, {}))[1]
    check(f"{plan.label}: the dead-letter queue {dead_letters} exists, encrypted, keeping messages at least a day",
          bool(queue) and (queue.get("sqs_managed_sse_enabled") is True or bool(queue.get("kms_master_key_id")))
          and (queue.get("message_retention_seconds") or 0) >= 86400, queue)
    for address, _, mapping in mappings:
        check(f"{plan.label}: {address} splits failing batches (bisect on error)", mapping.get("bisect_batch_on_function_error") is True)
        check(f"{plan.label}: {address} retries from the record the function names (ReportBatchItemFailures)",
              mapping.get("function_response_types") == ["ReportBatchItemFailures"], mapping.get("function_response_types"))
        retries = mapping.get("maximum_retry_attempts")
        check(f"{plan.label}: {address} retries a bounded number of times", isinstance(retries, int) and 0 < retries <= 10000, retries)
        check(f"{plan.label}: {address} starts at the oldest record (nothing written before it is skipped)",
              mapping.get("starting_position") == "TRIM_HORIZON", mapping.get("starting_position"))
        failure = [f.get("destination_arn", {}).get("references", [])
                   for c in plan.config_expressions(address).get("destination_config") or []
                   for f in c.get("on_failure") or []]
        check(f"{plan.label}: {address} sends what failed every retry to the dead-letter queue",
              len(failure) == 1 and "aws_sqs_queue.dead_letters.arn" in failure[0]
              and queues.get(dead_letters, (None, {}))[0] == "module.events.aws_sqs_queue.dead_letters", failure)
        check(f"{plan.label}: {address} reads the events table's stream",
              any('module.data.stream_arns["events"]' in r for r in module_call_references(plan, "events", "stream_arn")),
              module_call_references(plan, "events", "stream_arn"))
        check(f"{plan.label}: {address} invokes the events function's live alias",
              any('module.functions.aliases["authkit-events"]' in r for r in module_call_references(plan, "events", "function_arn")),
              module_call_references(plan, "events", "function_arn"))
    events_function = (functions(plan).get(EVENTS_CONSUMER) or (None, {}))[1].get("function_name")
    alarms = [a for _, _, a in plan.of_type("aws_cloudwatch_metric_alarm")]
    depth = [a for a in alarms if a.get("namespace") == "AWS/SQS" and a.get("metric_name") == "ApproximateNumberOfMessagesVisible"
             and (a.get("dimensions") or {}).get("QueueName") == dead_letters]
    check(f"{plan.label}: an alarm fires on the first dead letter of the events pipeline",
          len(depth) == 1 and depth[0].get("threshold") == 0 and depth[0].get("comparison_operator") == "GreaterThanThreshold",
          [a.get("alarm_name") for a in depth])
    age = [a for a in alarms if a.get("namespace") == "AWS/Lambda" and a.get("metric_name") == "IteratorAge"
           and (a.get("dimensions") or {}).get("FunctionName") == events_function]
    check(f"{plan.label}: an alarm fires when the events consumer falls behind its stream (IteratorAge)",
          len(age) == 1 and isinstance(age[0].get("threshold"), (int, float)) and age[0]["threshold"] < 86_400_000,
          [a.get("alarm_name") for a in age])


def check_apis(plan):
    """The public HTTP API answers CORS in its functions (no cors_configuration, which would
    replace their per-tenant headers; preflight routed to a function); the operator API is
    its own HTTP API, every route authorized by IAM, and CloudFront fronts only the public one."""
    apis = {address: values for address, _, values in plan.of_type("aws_apigatewayv2_api")}
    public, admin = apis.get("aws_apigatewayv2_api.this"), apis.get("aws_apigatewayv2_api.admin")
    check(f"{plan.label}: the public HTTP API has no cors_configuration (it would override the functions' per-tenant CORS)",
          public is not None and not public.get("cors_configuration"), public and public.get("cors_configuration"))
    routes = [(address, values) for address, _, values in plan.of_type("aws_apigatewayv2_route")]
    public_routes = {v.get("route_key"): v for a, v in routes if a.startswith("module.api.")}
    admin_routes = {v.get("route_key"): v for a, v in routes if a.startswith("module.admin_api.")}
    check(f"{plan.label}: preflight (OPTIONS) is routed to a function", "OPTIONS /{proxy+}" in public_routes, sorted(public_routes))
    check(f"{plan.label}: the member routes are on the public API (members call them from browsers)",
          MEMBER_ROUTES <= set(public_routes), sorted(MEMBER_ROUTES - set(public_routes)))
    check(f"{plan.label}: no operator route on the public API", not [r for r in public_routes if "/admin/" in r],
          sorted(r for r in public_routes if "/admin/" in r))
    check(f"{plan.label}: the public routes authenticate in their functions (no IAM on them)",
          all(v.get("authorization_type") in (None, "NONE") for v in public_routes.values()))
    check(f"{plan.label}: the operator API is its own HTTP API, every route authorized by AWS_IAM",
          admin is not None and bool(admin_routes) and all(v.get("authorization_type") == "AWS_IAM" for v in admin_routes.values())
          and all(r.split(" ", 1)[1].startswith("/admin/v1/") for r in admin_routes), sorted(admin_routes))
    check(f"{plan.label}: the operator API has no cors_configuration (no browser calls it)", admin is not None and not admin.get("cors_configuration"))
    integrated = {key for a, key, _ in plan.of_type("aws_apigatewayv2_integration") if a.startswith("module.admin_api.")}
    check(f"{plan.label}: the operator API invokes only the admin function", integrated == {ADMIN_FUNCTION}, sorted(integrated))
    public_functions = {key for a, key, _ in plan.of_type("aws_apigatewayv2_integration") if a.startswith("module.api.")}
    check(f"{plan.label}: the public API never invokes the admin function", ADMIN_FUNCTION not in public_functions, sorted(public_functions))
    front = module_call_references(plan, "front", "api_endpoint")
    check(f"{plan.label}: CloudFront fronts the public API, never the operator API",
          not front or (any("aws_apigatewayv2_api.this" in r for r in front) and not any("aws_apigatewayv2_api.admin" in r for r in front)), front)
    env = environment(functions(plan).get(ADMIN_FUNCTION, (None, {}))[1])
    check(f"{plan.label}: the admin function needs no origin secret (it is not behind CloudFront)",
          env is not None and "AUTHKIT_ORIGIN_SECRET_SHA256" not in env, env and sorted(env))


def check_signup(plan):
    public_routes = {v.get("route_key") for a, _, v in plan.of_type("aws_apigatewayv2_route") if a.startswith("module.api.")}
    check(f"{plan.label}: the sign-up routes are on the public API", set(SIGNUP_ROUTES) <= public_routes,
          sorted(set(SIGNUP_ROUTES) - public_routes))
    mode = (plan.doc.get("variables", {}).get("signup") or {}).get("value")
    told = {key: env["AUTHKIT_SIGNUP"] for key, (_, fn) in functions(plan).items()
            if (env := environment(fn)) is not None and "AUTHKIT_SIGNUP" in env}
    expected = {fn: mode for fn in SIGNUP_ROUTES.values()}
    check(f"{plan.label}: exactly the sign-up functions are told AUTHKIT_SIGNUP={mode}", told == expected, told)
    default = plan.doc["configuration"]["root_module"].get("variables", {}).get("signup", {}).get("default")
    check(f"{plan.label}: sign-up is off unless the stack turns it on", default == "off", default)
    tenant_api = next((s for s in statements_of(plan, "authkit-tenant-api")[0] if s["sid"] == "Tables"), None)
    counters = [r for r in (tenant_api or {}).get("resources", []) if isinstance(r, str) and r.endswith(f"-{plan.env}-counters")]
    check(f"{plan.label}: authkit-tenant-api counts sign-up's tenant creations (the counters table)", bool(counters),
          tenant_api and tenant_api.get("resources"))


def check_functions(plan):
    documented = set(re.findall(r"`((?:AUTHKIT|AWS)_[A-Z0-9_]+)`", (ROOT / "docs/configuration.md").read_text()))
    aliases = {key: alias for _, key, alias in plan.of_type("aws_lambda_alias")}
    boundary = os.environ.get("TF_VAR_permissions_boundary_arn", "")
    for key, (address, fn) in sorted(functions(plan).items()):
        env = environment(fn)
        if env is not None:
            undocumented = sorted(set(env) - documented)
            check(f"{plan.label}: {key}: every environment variable is in docs/configuration.md", not undocumented, undocumented)
        check(f"{plan.label}: {key}: publishes versions behind a `live` alias",
              fn.get("publish") is True and (aliases.get(key) or {}).get("name") == "live")
        system_level = ((fn.get("logging_config") or [{}])[0]).get("system_log_level")
        check(f"{plan.label}: {key}: keeps the platform's START/REPORT lines (system log level INFO)", system_level in ("INFO", "DEBUG"), system_level)
    unqualified = [address for address, _, p in plan.of_type("aws_lambda_permission") if p.get("qualifier") != "live"]
    check(f"{plan.label}: API Gateway and Cognito invoke the live alias", not unqualified, unqualified)
    if boundary:
        without = [address for address, _, role in plan.of_type("aws_iam_role") if role.get("permissions_boundary") != boundary]
        check(f"{plan.label}: every role carries the permissions boundary", not without, without)


def headers_read_by_the_code():
    found = set()
    for path in list((ROOT / "crates").glob("*/src/**/*.rs")):
        text = path.read_text()
        text = text.split("#[cfg(test)]")[0]
        found |= {h.lower() for h in re.findall(r'headers(?:\(\))?\s*\.get\(\s*"([A-Za-z0-9-]+)"', text)}
        found |= {h.lower().replace("_", "-") for h in re.findall(r"headers(?:\(\))?\s*\.get\(\s*(?:http::)?header::([A-Z_]+)\s*\)", text)}
    return found


def check_front(plan):
    domain = (plan.doc.get("variables", {}).get("domain_name") or {}).get("value")
    if domain:
        issuers = {e.get("AUTHKIT_ISSUER") for _, fn in functions(plan).values() for e in [environment(fn)] if e is not None}
        check(f"{plan.label}: with a domain, tokens and links name https://{domain}", issuers == {f"https://{domain}"}, sorted(map(str, issuers)))
    distributions = plan.of_type("aws_cloudfront_distribution")
    secret = os.environ.get("TF_VAR_origin_secret", "")
    http = {key: environment(fn) for key, (_, fn) in functions(plan).items()}
    http = {key: env for key, env in http.items() if env is not None and "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH" in env}
    apis = plan.of_type("aws_apigatewayv2_api")
    if not distributions:
        wrong = {k: e.get("AUTHKIT_CLIENT_IP_SOURCE") for k, e in http.items()
                 if e.get("AUTHKIT_CLIENT_IP_SOURCE", "direct") != "direct" or "AUTHKIT_ORIGIN_SECRET_SHA256" in e}
        check(f"{plan.label}: without a front, the functions take the API Gateway source IP and need no origin secret", not wrong, wrong)
        if plan.label.endswith("custom-domain"):
            check(f"{plan.label}: API Gateway serves the custom domain and the public API's execute-api endpoint is off",
                  bool(plan.of_type("aws_apigatewayv2_domain_name")) and bool(apis)
                  and all(api.get("disable_execute_api_endpoint") is True for address, _, api in apis if address == "aws_apigatewayv2_api.this"))
        return
    for address, _, distribution in distributions:
        headers = {h["name"].lower(): h["value"] for o in distribution["origin"] for h in o.get("custom_header") or []}
        check(f"{plan.label}: {address} sends the origin secret in x-authkit-origin", headers.get("x-authkit-origin") == secret)
        if domain:
            certificate = (distribution.get("viewer_certificate") or [{}])[0]
            check(f"{plan.label}: {address} serves {domain} with its certificate and TLS 1.2",
                  distribution.get("aliases") == [domain] and certificate.get("acm_certificate_arn", "").startswith("arn:aws:acm:us-east-1:")
                  and certificate.get("minimum_protocol_version") == "TLSv1.2_2021")
    digest = hashlib.sha256(secret.encode()).hexdigest()
    wrong = sorted(k for k, e in http.items() if e.get("AUTHKIT_ORIGIN_SECRET_SHA256") != digest or e.get("AUTHKIT_CLIENT_IP_SOURCE") != "cloudfront")
    check(f"{plan.label}: behind CloudFront every HTTP function checks the origin secret's SHA-256 and reads CloudFront-Viewer-Address",
          bool(http) and not wrong, wrong)
    forwarded = set()
    for _, _, policy in plan.of_type("aws_cloudfront_cache_policy"):
        parameters = policy["parameters_in_cache_key_and_forwarded_to_origin"][0]
        items = {h.lower() for c in parameters["headers_config"] for h in (c.get("headers") or [{}])[0].get("items") or []}
        forwarded |= items
        check(f"{plan.label}: the cache policy keys on Authorization and caches nothing the origin does not ask for",
              "authorization" in items and policy["min_ttl"] == 0 and policy["default_ttl"] == 0 and policy["max_ttl"] >= 1)
    for _, _, policy in plan.of_type("aws_cloudfront_origin_request_policy"):
        config = policy["headers_config"][0]
        items = {h.lower() for h in (config.get("headers") or [{}])[0].get("items") or []}
        check(f"{plan.label}: the origin request policy forwards CloudFront-Viewer-Address and never Host",
              "cloudfront-viewer-address" in items and config["header_behavior"] == "whitelist" and "host" not in items)
        forwarded |= items
        if policy["cookies_config"][0]["cookie_behavior"] == "all":
            forwarded.add("cookie")
    missing = sorted(headers_read_by_the_code() - forwarded - HEADERS_ADDED_BY_AWS)
    check(f"{plan.label}: CloudFront forwards every request header the code reads", not missing, missing)


def check_sms_preferences(plans):
    owners = [p.label for p in plans if p.label in ("dev", "staging", "prod") and p.of_type("aws_sns_sms_preferences")]
    check("SNS SMS preferences are managed by exactly one environment", len(owners) == 1, owners)


def check_bootstrap(plan):
    roles = {values["name"]: (address, values) for address, _, values in plan.of_type("aws_iam_role")}
    for env in ["dev", "staging", "prod"]:
        for kind, subject in [("deploy", f":environment:{env}"), ("plan", ":pull_request")]:
            address, role = roles.get(f"authkit-{env}-{kind}", (None, {}))
            statements = (plan.policy_statements(address, role, "assume_role_policy") if address else None) or []
            subjects = {v for s in statements for c in s["conditions"] if c[1] == "token.actions.githubusercontent.com:sub" for v in c[2]}
            audiences = {v for s in statements for c in s["conditions"] if c[1] == "token.actions.githubusercontent.com:aud" for v in c[2]}
            check(f"bootstrap: authkit-{env}-{kind} is assumed only through GitHub OIDC by ...{subject}",
                  bool(statements) and all(s["actions"] == {"sts:AssumeRoleWithWebIdentity"} for s in statements)
                  and len(subjects) == 1 and next(iter(subjects)).endswith(subject) and audiences == {"sts.amazonaws.com"},
                  sorted(subjects))
    documents = {a: [normal_statement_input(x) for x in (v.get("statement") or [])]
                 for a, v in plan.data.items() if ".aws_iam_policy_document." in a}
    deploy = [s for a, statements in documents.items() if a.endswith('policy_document.deploy') for s in statements]
    creates = [s for s in deploy if s["effect"] == "Allow" and s["actions"] & {"iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:*"}]
    check("bootstrap: deploy roles create roles only with the permissions boundary",
          bool(creates) and all(any(c[1] == "iam:PermissionsBoundary" for c in s["conditions"]) for s in creates))
    passes = [s for s in deploy if s["effect"] == "Allow" and s["actions"] & {"iam:PassRole", "iam:*"}]
    check("bootstrap: deploy roles pass roles to Lambda only",
          bool(passes) and all(("StringEquals", "iam:PassedToService", ("lambda.amazonaws.com",)) in s["conditions"] for s in passes))
    denied = {a for s in deploy if s["effect"] == "Deny" for a in s["actions"]}
    check("bootstrap: deploy roles can neither drop the boundary nor read secret values",
          {"iam:DeleteRolePermissionsBoundary", "secretsmanager:GetSecretValue"} <= denied, sorted(denied))
    plan_allows = {a for addr, statements in documents.items() if addr.endswith('policy_document.plan')
                   for s in statements if s["effect"] == "Allow" for a in s["actions"]}
    check("bootstrap: plan roles' own policy only reads state", plan_allows <= {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}, sorted(plan_allows))


def check_boundary_covers_functions(bootstrap, plan):
    """The deploy role may only create roles that carry the boundary: every action a
    function is allowed must be inside it, or it would fail at run time."""
    document = bootstrap.data.get(f'module.environment["{plan.env}"].data.aws_iam_policy_document.boundary')
    inside = {a for s in (document or {}).get("statement", []) if (s.get("effect") or "Allow") == "Allow" for a in s.get("actions") or []}
    outside = set()
    for key in functions(plan):
        statements, _ = statements_of(plan, key)
        outside |= {a for s in statements if s["effect"] == "Allow" for a in s["actions"]} - inside
    check(f"{plan.label}: the {plan.env} permissions boundary (infra/bootstrap) allows every action the functions use",
          bool(inside) and not outside, sorted(outside))


def main():
    plan_dir = pathlib.Path(sys.argv[1])
    plans = [Plan(path.stem, json.loads(path.read_text())) for path in sorted(plan_dir.glob("*.json"))]
    stack = [p for p in plans if p.label != "bootstrap"]
    check("plans for dev, staging and prod", {"dev", "staging", "prod"} <= {p.label for p in stack}, [p.label for p in plans])
    check_runbooks_exist()
    for plan in stack:
        check_environments_known(plan)
        check_tags(plan)
        check_metrics(plan)
        check_filters_have_data(plan)
        check_runbooks(plan)
        check_cognito(plan)
        check_iam(plan)
        check_event_pipeline(plan)
        check_functions(plan)
        check_apis(plan)
        check_signup(plan)
        check_front(plan)
    check_sms_preferences(stack)
    for bootstrap in [p for p in plans if p.label == "bootstrap"]:
        check_tags(bootstrap)
        check_bootstrap(bootstrap)
        for plan in stack:
            check_boundary_covers_functions(bootstrap, plan)
    failed = results.count(False)
    print(f"plan checks: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
