/** The scripted Messages-API server lives in src (the demo uses it too); tests import it from here. */
export { ScriptedModelServer, requestText, firstPrompt, type Script, type ScriptedReply, type RecordedRequest } from "../../src/demo/scripted-model-server.js";
