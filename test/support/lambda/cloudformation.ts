/** A CloudFormation template as `serverless package` writes it. */
export interface Template {
  Conditions?: Record<string, unknown>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, unknown> }>;
  Outputs?: Record<string, { Condition?: string; Value: unknown }>;
}

/**
 * The stack CloudFormation would create from `template`: conditions evaluated (they compare literals that the serverless
 * parameters resolved at package time), resources and outputs whose condition is false dropped, `Fn::If` replaced by
 * its chosen branch and `AWS::NoValue` removed. Other intrinsics (Ref, GetAtt, Sub) are kept as they are.
 */
export function effectiveStack(template: Template): Template {
  const conditions: Record<string, boolean> = {};
  for (const [name, expression] of Object.entries(template.Conditions ?? {})) conditions[name] = evaluate(expression, conditions);
  const keep = (condition: string | undefined): boolean => condition === undefined || conditions[condition] === true;
  const resources: Template['Resources'] = {};
  for (const [name, resource] of Object.entries(template.Resources)) {
    if (keep(resource.Condition)) resources[name] = resolveIfs(resource, conditions) as Template['Resources'][string];
  }
  const outputs: NonNullable<Template['Outputs']> = {};
  for (const [name, output] of Object.entries(template.Outputs ?? {})) if (keep(output.Condition)) outputs[name] = output;
  return { Resources: resources, Outputs: outputs };
}

function evaluate(expression: unknown, conditions: Record<string, boolean>): boolean {
  const node = expression as Record<string, unknown[]>;
  if (node['Fn::Equals'] !== undefined) return JSON.stringify(node['Fn::Equals'][0]) === JSON.stringify(node['Fn::Equals'][1]);
  if (node['Fn::Not'] !== undefined) return !evaluate(node['Fn::Not'][0], conditions);
  const condition = (expression as { Condition?: string }).Condition;
  if (condition !== undefined) return conditions[condition] === true;
  throw new Error(`condition not understood by this test: ${JSON.stringify(expression)}`);
}

const NO_VALUE = Symbol('AWS::NoValue');

function resolveIfs(value: unknown, conditions: Record<string, boolean>): unknown {
  const resolved = resolveNode(value, conditions);
  return resolved === NO_VALUE ? undefined : resolved;
}

function resolveNode(value: unknown, conditions: Record<string, boolean>): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveNode(item, conditions)).filter((item) => item !== NO_VALUE);
  if (typeof value !== 'object' || value === null) return value;
  const node = value as Record<string, unknown>;
  if (node['Ref'] === 'AWS::NoValue') return NO_VALUE;
  const branches = node['Fn::If'] as [string, unknown, unknown] | undefined;
  if (branches !== undefined) return resolveNode(conditions[branches[0]] === true ? branches[1] : branches[2], conditions);
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(node)) {
    const resolved = resolveNode(item, conditions);
    if (resolved !== NO_VALUE) out[key] = resolved;
  }
  return out;
}

/** An IAM policy statement as written in the template. */
export interface Statement {
  Effect: string;
  Action: string[];
  Resource: unknown;
}

/** Every statement of a role's inline policies. */
export function roleStatements(stack: Template, role: string): Statement[] {
  const resource = stack.Resources[role];
  if (resource === undefined) throw new Error(`no role ${role} in the stack; it has ${Object.keys(stack.Resources).join(', ')}`);
  const policies = (resource.Properties['Policies'] ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}
