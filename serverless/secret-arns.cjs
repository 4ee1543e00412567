'use strict';
// The IAM resource of a secret named as sse-relay's *_FROM variables take it (lib/config/secret-refs.ts
// parses the same forms at run time): ssm:/name, secretsmanager:name, or the full ARN of either.

const SSM_ARN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[A-Za-z0-9_.\-/]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const COMPLETE_SECRET_ARN = /-[A-Za-z0-9]{6}$/;
const SSM_NAME = /^ssm:[A-Za-z0-9_.\-/]{1,2048}$/;
const SECRET_NAME = /^secretsmanager:[A-Za-z0-9/_+=.@-]{1,512}$/;

function isSecretRef(value) {
  const text = String(value);
  return SSM_ARN.test(text) || SECRET_ARN.test(text) || SSM_NAME.test(text) || SECRET_NAME.test(text);
}

/** `{ action, resource }`: the one IAM action that reads the secret, on that secret only (a CloudFormation value). */
function secretArn(value) {
  const text = String(value);
  if (SSM_ARN.test(text)) return { action: 'ssm:GetParameter', resource: text };
  // A complete secret ARN ends in the hyphen and 6 characters Secrets Manager appended. GetSecretValue also takes the
  // ARN without them (a partial ARN), but IAM matches the grant against the complete one, so a partial ARN granted as
  // written would be AccessDenied at every read: it gets the same `-??????` as a name.
  if (SECRET_ARN.test(text)) return { action: 'secretsmanager:GetSecretValue', resource: COMPLETE_SECRET_ARN.test(text) ? text : `${text}-??????` };
  if (SSM_NAME.test(text)) {
    const name = text.slice('ssm:'.length);
    // A hierarchical name (/a/b) is its own path in the ARN; a flat one (a) needs the slash.
    const path = name.startsWith('/') ? name : `/${name}`;
    return { action: 'ssm:GetParameter', resource: { 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${path}` } };
  }
  const name = text.slice('secretsmanager:'.length);
  // Secrets Manager appends 6 random characters to a secret's ARN; `??????` matches exactly those, not other secrets.
  return { action: 'secretsmanager:GetSecretValue', resource: { 'Fn::Sub': `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${name}-??????` } };
}

module.exports = { isSecretRef, secretArn };
