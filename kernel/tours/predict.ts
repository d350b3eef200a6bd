/**
 * Predict, then reveal: the tours ask the reader to commit to an answer before the probe shows what the VM
 * really did.
 *
 *   const p = await predict("How many restarts before the supervisor gives up?", { choices: ["1", "3", "forever"] });
 *   …run the experiment, measure `restarts` from a probe's table…
 *   reveal(p, restarts, { explain: "max_restarts is 3 in 5 s: the fourth crash takes the supervisor down." });
 *
 * In a live notebook `predict` asks through Jupyter's input request (the cell scope's `input`), so it works in
 * every frontend. When the frontend takes no input — nbconvert and CI send `allow_stdin: false` — no request
 * is sent: the question is shown, and the reveal shows the evidence alone. Nothing else depends on the answer;
 * a tour runs the same whichever way the reader answers.
 */
import { currentOutput } from "../evaluation/currentOutput";
import type { MimeBundle } from "../evaluation/cellIO";

export interface PredictOptions {
  /** The answers to pick from; the reader types one, or its number. Without choices the answer is free text. */
  choices?: (string | number)[];
}

export interface Prediction {
  question: string;
  choices: string[];
  /** What the reader answered (a choice's text when they typed its number); null when not asked or left empty. */
  answer: string | null;
  /** False when the frontend takes no input (a headless run): the question was shown, not asked. */
  asked: boolean;
}

export interface RevealOptions {
  /** Why the VM did what it did: the lesson, in a sentence or two. */
  explain: string;
  /**
   * Which answer is right, when it is not simply the observed value written out (e.g. the observed value is a
   * count and the right choice is "it grows"): a choice's text, or a test of the reader's answer.
   */
  right?: string | ((answer: string) => boolean);
  /** A unit shown after the observed value ("ms", "restarts"). */
  unit?: string;
}

interface Revealed {
  question: string;
  prediction: string | null;
  asked: boolean;
  observed: unknown;
  /** True or false when the reader answered; null when the question was not asked. */
  correct: boolean | null;
  explain: string;
}

/** Ask the reader to predict (or, headless, show the question); resolves with what they answered. */
export async function predict(question: string, options: PredictOptions = {}): Promise<Prediction> {
  const io = currentOutput();
  const choices = (options.choices ?? []).map(String);
  io.displayBundle(questionBundle(question, choices));
  let typed: string;
  try {
    typed = await io.input(choices.length ? `Your prediction (1–${choices.length}, or the answer): ` : "Your prediction: ");
  } catch (e) {
    // The frontend takes no input (nbconvert, CI): the tour goes on and the reveal shows the evidence alone.
    if (/allow_stdin is false/.test((e as Error).message)) return { question, choices, answer: null, asked: false };
    throw e;
  }
  // An empty answer (the reader just pressed Enter) is no prediction: the reveal then shows the evidence alone.
  return { question, choices, answer: typed.trim() === "" ? null : resolveChoice(typed.trim(), choices), asked: true };
}

/** Show the reader's prediction beside what was observed, whether it was right, and why. */
// It shows itself and returns nothing, so a cell ending in reveal(…) does not show it twice.
export function reveal(prediction: Prediction, observed: unknown, options: RevealOptions): void {
  const answer = prediction.answer;
  const correct = answer === null ? null : isRight(answer, observed, options.right);
  const result: Revealed = { question: prediction.question, prediction: answer, asked: prediction.asked, observed, correct, explain: options.explain };
  let shown = showValue(observed, options.unit);
  if (typeof options.right === "string" && !same(options.right, shown)) shown += ` — so: ${options.right}`;
  currentOutput().displayBundle(revealBundle(result, shown));
}

/** "2" with choices picks the second; anything else is kept as typed (matching a choice's case). */
function resolveChoice(typed: string, choices: string[]): string {
  const n = Number(typed);
  if (Number.isInteger(n) && n >= 1 && n <= choices.length && !choices.includes(typed)) return choices[n - 1];
  return choices.find((c) => same(c, typed)) ?? typed;
}

function isRight(answer: string, observed: unknown, right: RevealOptions["right"]): boolean {
  if (typeof right === "function") return right(answer);
  if (typeof right === "string") return same(answer, right);
  const a = Number(answer);
  if (typeof observed === "number" && answer !== "" && Number.isFinite(a)) return a === observed;
  return same(answer, showValue(observed));
}

const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

function showValue(value: unknown, unit?: string): string {
  const text = typeof value === "string" ? value : typeof value === "number" ? value.toLocaleString("en") : String(value);
  return unit ? `${text} ${unit}` : text;
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

function questionBundle(question: string, choices: string[]): MimeBundle {
  const list = choices.map((c, i) => `${i + 1}. ${c}`);
  return {
    "text/plain": ["Predict: " + question, ...list.map((l) => "  " + l)].join("\n"),
    "text/html":
      `<div class="lumin-predict" style="border-left:4px solid #0072B2;padding:4px 10px"><b>Predict:</b> ${escapeHtml(question)}` +
      (choices.length ? `<ol style="margin:4px 0">${choices.map((c) => `<li>${escapeHtml(c)}</li>`).join("")}</ol>` : "") +
      `</div>`,
  };
}

function verdict(r: Revealed): string {
  return r.correct ? "right" : "not this time";
}

/** The prediction as shown: the answer, or why there is none. */
function predictionText(r: Revealed): string {
  return r.prediction ?? (r.asked ? "(no answer given)" : "(not asked: this run takes no input)");
}

function revealText(r: Revealed, shown: string): string {
  return [
    `Question: ${r.question}`,
    `Your prediction: ${predictionText(r)}`,
    `Observed: ${shown}`,
    ...(r.correct === null ? [] : [`Verdict: ${verdict(r)}`]),
    `Why: ${r.explain}`,
  ].join("\n");
}

function revealBundle(r: Revealed, shown: string): MimeBundle {
  const colour = r.correct === null ? "#888888" : r.correct ? "#009E73" : "#D55E00";
  const row = (k: string, v: string) => `<tr><th style="text-align:left;padding-right:12px">${k}</th><td style="text-align:left">${v}</td></tr>`;
  return {
    "text/plain": revealText(r, shown),
    "text/html":
      `<div class="lumin-reveal" style="border-left:4px solid ${colour};padding:4px 10px"><table>` +
      row("Question", escapeHtml(r.question)) +
      row("Your prediction", r.prediction === null ? `<i>${escapeHtml(predictionText(r).slice(1, -1))}</i>` : escapeHtml(r.prediction)) +
      row("Observed", `<b>${escapeHtml(shown)}</b>`) +
      (r.correct === null ? "" : row("Verdict", `<span style="color:${colour}">${verdict(r)}</span>`)) +
      row("Why", escapeHtml(r.explain)) +
      `</table></div>`,
  };
}
