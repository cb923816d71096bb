/**
 * Secret redaction for everything that leaves a step or a provider: step logs, Slack messages,
 * failure messages, CLI output. Values of variables that hold keys or tokens are replaced by
 * `[redacted:NAME]`; well-known token shapes are caught even when no variable holds them.
 */

// KEY_DATA: a private key given as text (TEMPORAL_TLS_CLIENT_KEY_DATA).
const SECRET_NAME = /(KEY|KEY_DATA|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE)$/i;
/** Shorter values are too likely to be ordinary words ("test", "true") to replace blindly. */
const MIN_SECRET_LENGTH = 6;

const TOKEN_SHAPES: [RegExp, string][] = [
  [/\bxox[abposre]-[A-Za-z0-9-]{10,}/g, '[redacted:slack-token]'],
  [/\bxapp-[A-Za-z0-9-]{10,}/g, '[redacted:slack-app-token]'],
  [/\bsk-ant-[A-Za-z0-9_-]{16,}/g, '[redacted:anthropic-key]'],
  [/\bsk-(?:proj-)?[A-Za-z0-9_-]{20,}/g, '[redacted:openai-key]'],
];

export type Redactor = (text: string) => string;

export function createRedactor(env: NodeJS.ProcessEnv = process.env, extraNames: string[] = []): Redactor {
  const secrets: [string, string][] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!value || value.length < MIN_SECRET_LENGTH) continue;
    if (SECRET_NAME.test(name) || extraNames.includes(name)) secrets.push([value, `[redacted:${name}]`]);
  }
  // Longest first, so a secret that contains another is replaced whole.
  secrets.sort((a, b) => b[0].length - a[0].length);
  return (text: string) => {
    let out = text;
    for (const [value, label] of secrets) {
      if (out.includes(value)) out = out.split(value).join(label);
    }
    for (const [shape, label] of TOKEN_SHAPES) out = out.replace(shape, label);
    return out;
  };
}

let processRedactor: Redactor | undefined;
/** Redactor over this process's environment (built once: the environment does not change). */
export function redact(text: string): string {
  processRedactor ??= createRedactor();
  return processRedactor(text);
}
