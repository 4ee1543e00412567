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

/**
 * Every Ref, Fn::GetAtt, Fn::Sub `${Name}` and DependsOn of `template` (as written, conditions not evaluated) that names
 * neither a resource nor a parameter of the template nor a pseudo parameter. CloudFormation refuses such a template
 * whole ("Unresolved resource dependencies"), whatever the condition of the resource holding the reference.
 */
export function unresolvedReferences(template: Template & { Parameters?: Record<string, unknown> }): string[] {
  const declared = new Set([...Object.keys(template.Resources), ...Object.keys(template.Parameters ?? {})]);
  const missing: string[] = [];
  const check = (name: string, where: string): void => {
    if (!name.startsWith('AWS::') && !declared.has(name)) missing.push(`${where} → ${name}`);
  };
  const walk = (value: unknown, where: string): void => {
    if (Array.isArray(value)) { value.forEach((item, i) => walk(item, `${where}/${i}`)); return; }
    if (typeof value !== 'object' || value === null) return;
    const node = value as Record<string, unknown>;
    if (typeof node['Ref'] === 'string') check(node['Ref'], where);
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') check(getAtt[0], where);
    if (typeof getAtt === 'string') check(getAtt.split('.')[0] ?? '', where);
    const sub = node['Fn::Sub'];
    const [text, names] = typeof sub === 'string' ? [sub, {}] : Array.isArray(sub) ? [String(sub[0]), (sub[1] ?? {}) as object] : ['', {}];
    for (const match of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
      const name = (match[1] ?? '').split('.')[0] ?? '';
      if (!(name in names)) check(name, where);
    }
    for (const [key, item] of Object.entries(node)) walk(item, `${where}/${key}`);
  };
  for (const [name, resource] of Object.entries(template.Resources)) {
    for (const target of [(resource as { DependsOn?: string | string[] }).DependsOn ?? []].flat()) check(target, `${name}/DependsOn`);
    walk(resource, name);
  }
  walk(template.Outputs ?? {}, 'Outputs');
  return missing;
}
