/**
 * Temporal user metadata of a run, fixed at its start: the summary the Web UI shows on the run's
 * page and in its list (`pipeline: <goal>`, `llm: <backend>/<model>`) and the details (who asked,
 * from where, which workspace and steps). Runs started bare from the `temporal` CLI get them
 * from its `--static-summary` / `--static-details` flags (README, "From tctl").
 */
import type { LlmInput, SlackTarget } from '../core/contract.js';
import type { ValidPipelineInput } from '../core/validate.js';

/** The Web UI's summary (one line) and details (Temporal markdown) of a run, fixed at its start. */
export interface RunMetadata {
  summary: string;
  details: string;
}

/** User text inside Temporal markdown: one line, cut, with markdown's special characters escaped. */
function markdownText(text: string, max: number): string {
  const folded = text.replace(/\s+/g, ' ').trim();
  const cut = folded.length > max ? `${folded.slice(0, max - 1)}…` : folded;
  return cut.replace(/([\\`*_[\]<>])/g, '\\$1');
}

function sourceOf(slack: SlackTarget | undefined, source: string | undefined): string {
  if (source) return source;
  const ts = slack && (slack.threadTs ?? slack.messageTs);
  const thread = slack && ts ? `${slack.channel}/${ts}` : undefined;
  return thread ? `Slack thread ${markdownText(thread, 80)}` : 'the poc client API';
}

/** `pipeline: <goal>`, and who asked, from where, in which workspace, which steps. */
export function pipelineMetadata(input: ValidPipelineInput, source?: string): RunMetadata {
  const gated = input.approve === 'all' ? 'every step' : input.approve.join(', ');
  const lines = [
    `- **requested by:** ${markdownText(input.requestedBy ?? 'not given', 200)}`,
    `- **source:** ${sourceOf(input.slack, source)}`,
    `- **workspace:** ${input.workspace ? markdownText(input.workspace, 300) : "the worker's default"}`,
    `- **steps:** ${input.steps.join(' → ')}`,
    ...(input.onFailure === 'ask' ? ['- **on failure:** asks retry / skip / abort'] : []),
    ...(gated ? [`- **approval before:** ${gated}`] : []),
  ];
  return { summary: `pipeline: ${markdownText(input.goal, 200)}`, details: lines.join('\n') };
}

/** `llm: <backend>/<model>`, and who asked, from where, with which limits. */
export function llmMetadata(input: LlmInput, source?: string): RunMetadata {
  const lines = [
    `- **requested by:** ${markdownText(input.requestedBy ?? 'not given', 200)}`,
    `- **source:** ${sourceOf(input.slack, source)}`,
    `- **prompt:** ${markdownText(input.prompt, 200)}`,
    ...(input.maxTokens !== undefined ? [`- **max tokens:** ${input.maxTokens}`] : []),
    ...(input.temperature !== undefined ? [`- **temperature:** ${input.temperature}`] : []),
  ];
  return { summary: `llm: ${input.backend}/${markdownText(input.model, 200)}`, details: lines.join('\n') };
}
