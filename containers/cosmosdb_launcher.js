#!/usr/bin/env node
// Runs @vercel/cosmosdb-server 1.0.1 in plain HTTP with keep-alive, fixing
// what stops Cosmos DB SDKs from working against it:
//   - reading a missing document answers 404 NotFound, not 500;
//   - the account document advertises the http:// endpoint the server
//     really listens on, not https:// (SDKs follow it: endpoint discovery);
//   - error bodies always carry a Cosmos "code";
//   - idle keep-alive connections are never closed by the server, so a client
//     never reuses a connection the server is closing.
// Logs one line per request (method, path, status, milliseconds) and never
// any header. Prints "listening on http://HOST:PORT" once ready.
//
// Optional flags make it answer what a real account answers where 1.0.1 is
// silent (none is on by default):
//   --no-metadata-writes      403 Forbidden on creating, replacing or deleting a
//                             database or container, as an account with
//                             disableKeyBasedMetadataWriteAccess does; a request
//                             carrying the header "x-conformance-control-plane: 1"
//                             stands for the portal/CLI (Azure Resource Manager)
//                             and is let through
//   --max-document-bytes N    413 RequestEntityTooLarge on a document write
//                             (create, upsert, replace) whose body is over N
//                             bytes (a real account: 2 MiB, 2097152)
//   --throttle-first N        429 TooManyRequests on the first N requests
//   --throttle-fraction F     429 on a fraction F (0..1) of requests, spread
//                             evenly (F=0.5: every second one), deterministically
//   --retry-after-ms MS       the x-ms-retry-after-ms a 429 carries (default 10)
// Throttling counts every request but the account read (GET /) and
// control-plane requests.
//
// usage: node cosmosdb_launcher.js MODULE_DIR [--host 127.0.0.1] [--port 0]
//          [--no-metadata-writes] [--max-document-bytes N]
//          [--throttle-first N] [--throttle-fraction F] [--retry-after-ms MS]
"use strict";

const path = require("path");

const USAGE = "usage: cosmosdb_launcher.js MODULE_DIR [--host H] [--port P] " +
  "[--no-metadata-writes] [--max-document-bytes N] [--throttle-first N] " +
  "[--throttle-fraction F] [--retry-after-ms MS]\n";

function usageError(message) {
  process.stderr.write(`cosmosdb_launcher.js: ${message}\n${USAGE}`);
  process.exit(2);
}

function numberArg(argv, i, name, { integer = true, min = 0, max = Infinity } = {}) {
  const text = argv[i];
  const value = integer ? Number.parseInt(text, 10) : Number.parseFloat(text);
  if (text === undefined || !/^[0-9.]+$/.test(text) || Number.isNaN(value) ||
      value < min || value > max) {
    usageError(`${name} needs a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function parseArgs(argv) {
  const args = {
    moduleDir: null, host: "127.0.0.1", port: 0,
    noMetadataWrites: false, maxDocumentBytes: 0,
    throttleFirst: 0, throttleFraction: 0, retryAfterMs: 10,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--host") args.host = argv[(i += 1)];
    else if (arg === "--port") args.port = parseInt(argv[(i += 1)], 10);
    else if (arg === "--no-metadata-writes") args.noMetadataWrites = true;
    else if (arg === "--max-document-bytes") {
      args.maxDocumentBytes = numberArg(argv, (i += 1), arg, { min: 1 });
    } else if (arg === "--throttle-first") args.throttleFirst = numberArg(argv, (i += 1), arg);
    else if (arg === "--throttle-fraction") {
      args.throttleFraction = numberArg(argv, (i += 1), arg, { integer: false, max: 1 });
    } else if (arg === "--retry-after-ms") args.retryAfterMs = numberArg(argv, (i += 1), arg);
    else if (arg.startsWith("--")) usageError(`unknown option ${arg}`);
    else args.moduleDir = arg;
  }
  if (!args.moduleDir) usageError("no MODULE_DIR");
  return args;
}

const ERROR_CODES = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  412: "PreconditionFailed",
  413: "RequestEntityTooLarge",
  429: "TooManyRequests",
  500: "InternalServerError",
};

const NOT_FOUND = {
  code: "NotFound",
  message: "Entity with the specified id does not exist in the system.",
};

// Replace a handler module's export before the routing table is built from it.
function wrapHandler(lib, name, wrap) {
  const handler = require(path.join(lib, "handler", name));
  handler.default = wrap(handler.default);
}

const CONTROL_PLANE_HEADER = "x-conformance-control-plane";

// The answers a real account gives where 1.0.1 says nothing: a function
// (req, handler) -> [status, headers, body] or null (no objection).
function realAccountRules(lib, args) {
  const handlerOf = (name) => require(path.join(lib, "handler", name)).default;
  const metadataWrites = new Set([
    "create-database", "create-collection", "replace-collection",
    "delete-database", "delete-collection"].map(handlerOf));
  const documentWrites = new Set(
    ["create-document", "upsert-document", "replace-document"].map(handlerOf));
  const accountRead = handlerOf("read-meta");
  let counted = 0;

  const throttled = () => {
    counted += 1;
    if (counted <= args.throttleFirst) return true;
    const f = args.throttleFraction;
    return f > 0 && Math.floor(counted * f) > Math.floor((counted - 1) * f);
  };

  return (req, handler) => {
    if (req.headers[CONTROL_PLANE_HEADER] === "1") return null;
    if (handler !== accountRead && (args.throttleFirst || args.throttleFraction) &&
        throttled()) {
      const headers = { "x-ms-retry-after-ms": String(args.retryAfterMs), "x-ms-substatus": "3200" };
      return [429, headers, {
        code: "TooManyRequests",
        message: "Request rate is large. More Request Units may be needed, so no changes " +
          "were made. Please retry this request later.",
      }];
    }
    if (args.noMetadataWrites && metadataWrites.has(handler)) {
      // the resource type: the last segment of /dbs, /dbs/D/colls; the one
      // before the name in /dbs/D, /dbs/D/colls/C
      const segments = (req.url || "").split("?")[0].split("/").filter(Boolean);
      const resource = segments[segments.length - 1 - ((segments.length + 1) % 2)] || "dbs";
      return [403, {}, {
        code: "Forbidden",
        message: `Operation '${req.method}' on resource '${resource}' is not allowed ` +
          "through Azure Cosmos DB endpoint. Please switch on such operations for your " +
          "account, or perform this operation through Azure Resource Manager, Azure " +
          "Portal, Azure CLI or Azure Powershell",
      }];
    }
    const length = Number.parseInt(req.headers["content-length"] || "0", 10);
    if (args.maxDocumentBytes && documentWrites.has(handler) &&
        length > args.maxDocumentBytes) {
      return [413, {}, {
        code: "RequestEntityTooLarge",
        message: `Request size is too large: ${length} bytes, over ${args.maxDocumentBytes}`,
      }];
    }
    return null;
  };
}

function patchServerModule(lib, args) {
  const partitionKeys = require(path.join(lib, "utils", "get-partition-from-header"));

  // 1.0.1 dereferences the missing document and answers 500.
  wrapHandler(lib, "read-document", (original) => (account, req, res, params) => {
    const collection = account.database(params.dbId).collection(params.collId);
    if (collection.read()) {
      let partition;
      try {
        partition = partitionKeys.parsePartitionKey(
          partitionKeys.default(req), params.docId);
      } catch (err) {
        partition = undefined; // the original answers a malformed header itself
      }
      if (partition !== undefined &&
          !collection.document(params.docId, partition).read()) {
        res.statusCode = 404;
        return { ...NOT_FOUND };
      }
    }
    return original(account, req, res, params);
  });

  // 1.0.1 advertises https:// even when it serves plain http.
  wrapHandler(lib, "read-meta", (original) => (account, req, res, params) => {
    const meta = original(account, req, res, params);
    const toHttp = (locations) => (locations || []).map((location) => ({
      ...location,
      databaseAccountEndpoint: location.databaseAccountEndpoint.replace(/^https:/, "http:"),
    }));
    return {
      ...meta,
      writableLocations: toHttp(meta.writableLocations),
      readableLocations: toHttp(meta.readableLocations),
    };
  });

  // Every error answer carries a Cosmos error code, as the service's do.
  const refusal = realAccountRules(lib, args);
  const routes = require(path.join(lib, "routes"));
  const route = routes.default;
  routes.default = (req) => {
    const found = route(req);
    if (!found) return found;
    const [params, handler] = found;
    return [params, async (account, req2, res, params2) => {
      const refused = refusal(req2, handler);
      if (refused) {
        // the request body is left unread: Node discards it once answered
        const [status, headers, body] = refused;
        res.statusCode = status;
        Object.entries(headers).forEach(([name, value]) => res.setHeader(name, value));
        return body;
      }
      const body = await handler(account, req2, res, params2);
      if (res.statusCode > 399 && body && typeof body === "object" && !body.code) {
        body.code = ERROR_CODES[res.statusCode] || "Error";
      }
      return body;
    }];
  };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const lib = path.join(path.resolve(args.moduleDir), "lib");
  patchServerModule(lib, args);
  const { createHttpServer } = require(lib);

  const server = createHttpServer({ keepAlive: true });
  server.keepAliveTimeout = 0; // never close an idle connection first
  server.headersTimeout = 0;
  server.requestTimeout = 0;
  server.on("request", (req, res) => {
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const urlPath = (req.url || "").split("?")[0];
      process.stdout.write(
        `${new Date().toISOString()} ${req.method} ${urlPath} ${res.statusCode} ${ms.toFixed(1)}ms\n`);
    });
  });
  server.on("error", (err) => {
    process.stderr.write(`cosmosdb-server: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(args.port, args.host, () => {
    const { address, port } = server.address();
    process.stdout.write(`listening on http://${address}:${port}\n`);
  });
  // in memory: nothing to flush, and idle keep-alive connections would hold close()
  process.on("SIGTERM", () => process.exit(0));
  process.on("SIGINT", () => process.exit(0));
}

main();
