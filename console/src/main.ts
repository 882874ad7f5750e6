import { type BodyEncoding, describeBody, encodeBody } from "./body-codec.js";
import { type BrokerClient, brokerClient, PROTOCOL_NAMES, type Protocol } from "./broker-client.js";
import { describeError, type Problem } from "./describe-error.js";
import { formatTime, LiveView } from "./live-view.js";

/** The console page: wires the forms and the live table to a broker client. */

function element<T extends HTMLElement>(id: string, type: new () => T): T {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no <${type.name}> #${id}`);
  return found;
}

const ui = {
  subject: element("subject", HTMLInputElement),
  protocol: element("protocol", HTMLSelectElement),
  token: element("token", HTMLInputElement),
  publishForm: element("publish-form", HTMLFormElement),
  publishBody: element("publish-body", HTMLTextAreaElement),
  publishExpiration: element("publish-expiration", HTMLInputElement),
  publishButton: element("publish-button", HTMLButtonElement),
  publishResult: element("publish-result", HTMLParagraphElement),
  fetchForm: element("fetch-form", HTMLFormElement),
  fetchId: element("fetch-id", HTMLInputElement),
  fetchButton: element("fetch-button", HTMLButtonElement),
  fetchResult: element("fetch-result", HTMLDivElement),
  subscribeButton: element("subscribe-button", HTMLButtonElement),
  clearButton: element("clear-button", HTMLButtonElement),
  subscriptionStatus: element("subscription-status", HTMLSpanElement),
  liveRows: element("live-rows", HTMLTableSectionElement),
  liveScroller: element("live-scroller", HTMLDivElement),
  liveStats: element("live-stats", HTMLParagraphElement),
};

/** The token lives in this tab's sessionStorage: it survives a reload, not the tab. */
const TOKEN_KEY = "broker-console-token";
ui.token.value = sessionStorage.getItem(TOKEN_KEY) ?? "";
const token = (): string => ui.token.value.trim();

const live = new LiveView(ui.liveRows, ui.liveScroller, ui.liveStats);
let protocol = readProtocol();
let client: BrokerClient = brokerClient(protocol, token);
let subscription: AbortController | undefined;

function readProtocol(): Protocol {
  return ui.protocol.value === "grpc-web" ? "grpc-web" : "connect";
}

function subject(): string {
  return ui.subject.value.trim();
}

function showProblem(target: HTMLElement, problem: Problem): void {
  target.className = `result problem ${problem.kind}`;
  target.dataset.kind = problem.kind;
  const title = document.createElement("span");
  title.className = "title";
  title.textContent = problem.title;
  const detail = document.createElement("span");
  detail.className = "detail";
  detail.textContent = problem.detail;
  target.replaceChildren(title, detail);
}

function showOk(target: HTMLElement, ...children: (Node | string)[]): void {
  target.className = "result ok";
  target.dataset.kind = "ok";
  target.replaceChildren(...children);
}

function setStatus(state: "idle" | "connecting" | "live" | "failed", text: string): void {
  ui.subscriptionStatus.className = `status ${state}`;
  ui.subscriptionStatus.dataset.state = state;
  ui.subscriptionStatus.textContent = text;
}

ui.publishForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  ui.publishButton.disabled = true;
  try {
    const encoding = (new FormData(ui.publishForm).get("encoding") ?? "text") as BodyEncoding;
    const body = encodeBody(ui.publishBody.value, encoding);
    const expirationSeconds = Number(ui.publishExpiration.value || "0");
    const { id } = await client.publish({ subject: subject(), body, expirationSeconds });
    const lifetime = expirationSeconds === 0 ? "fire-and-forget" : `fetchable for ${expirationSeconds} s`;
    showOk(ui.publishResult, `Published id ${id} (${body.length} B, ${lifetime}) over ${PROTOCOL_NAMES[protocol]}`);
    ui.publishResult.dataset.id = String(id);
    if (!ui.fetchId.value) ui.fetchId.value = String(id);
  } catch (err) {
    showProblem(ui.publishResult, describeError(err));
  } finally {
    ui.publishButton.disabled = false;
  }
});

ui.fetchForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  ui.fetchButton.disabled = true;
  try {
    const message = await client.fetch({ subject: subject(), id: BigInt(ui.fetchId.value || "0") });
    const body = describeBody(message.body);
    const heading = document.createElement("span");
    heading.className = "title";
    heading.textContent = `Message ${message.id} on '${message.subject}'`;
    const meta = document.createElement("span");
    meta.className = "detail";
    meta.textContent = `published ${formatTime(message.publishedAtMs)} · ${message.body.length} B · shown as ${body.encoding}`;
    const pre = document.createElement("pre");
    pre.textContent = body.value;
    showOk(ui.fetchResult, heading, meta, pre);
  } catch (err) {
    showProblem(ui.fetchResult, describeError(err));
  } finally {
    ui.fetchButton.disabled = false;
  }
});

async function subscribe(): Promise<void> {
  subscription?.abort();
  const controller = new AbortController();
  subscription = controller;
  const on = `'${subject()}' over ${PROTOCOL_NAMES[protocol]}`;
  ui.subscribeButton.textContent = "Stop";
  setStatus("connecting", `connecting to ${on}…`);
  try {
    const stream = client.subscribe(
      { subject: subject() },
      // The gateway sends the headers once the subscription is live.
      { signal: controller.signal, onHeader: () => setStatus("live", `live on ${on}`) },
    );
    for await (const message of stream) live.add(message);
    if (subscription === controller) setStatus("idle", `the gateway ended the subscription on ${on}`);
  } catch (err) {
    if (controller.signal.aborted) return;
    const problem = describeError(err);
    setStatus("failed", `${problem.title}: ${problem.detail}`);
  } finally {
    if (subscription === controller) {
      subscription = undefined;
      ui.subscribeButton.textContent = "Subscribe";
    }
  }
}

function unsubscribe(): void {
  subscription?.abort();
  subscription = undefined;
  ui.subscribeButton.textContent = "Subscribe";
  setStatus("idle", "not subscribed");
}

ui.subscribeButton.addEventListener("click", () => {
  if (subscription) unsubscribe();
  else void subscribe();
});

ui.clearButton.addEventListener("click", () => live.clear());

// A click on a row's id fetches that message.
ui.liveRows.addEventListener("click", (event) => {
  const cell = event.target instanceof HTMLElement ? event.target.closest("td.id") : null;
  const id = cell?.parentElement?.dataset.id;
  if (!id) return;
  ui.fetchId.value = id;
  ui.fetchForm.requestSubmit();
});

ui.protocol.addEventListener("change", () => {
  protocol = readProtocol();
  client = brokerClient(protocol, token);
  // A running subscription moves to the new protocol.
  if (subscription) void subscribe();
});

ui.subject.addEventListener("change", () => {
  // Rows do not name their subject, so another subject starts a fresh table.
  live.clear();
  if (subscription) void subscribe();
});

ui.token.addEventListener("change", () => {
  sessionStorage.setItem(TOKEN_KEY, token());
  // A running subscription continues under the new token.
  if (subscription) void subscribe();
});
