/** The scripted Messages-API server lives in src (the demo uses it too); tests import it from here. */
export {
  ScriptedModelServer,
  requestText,
  firstPrompt,
  rateLimitHeaders,
  type Script,
  type ScriptedReply,
  type ScriptedError,
  type RecordedRequest,
} from "../../src/demo/scripted-model-server.js";
