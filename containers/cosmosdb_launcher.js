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
// usage: node cosmosdb_launcher.js MODULE_DIR [--host 127.0.0.1] [--port 0]
"use strict";

const path = require("path");

function parseArgs(argv) {
  const args = { moduleDir: null, host: "127.0.0.1", port: 0 };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--host") args.host = argv[(i += 1)];
    else if (argv[i] === "--port") args.port = parseInt(argv[(i += 1)], 10);
    else args.moduleDir = argv[i];
  }
  if (!args.moduleDir) {
    process.stderr.write("usage: cosmosdb_launcher.js MODULE_DIR [--host H] [--port P]\n");
    process.exit(2);
  }
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

function patchServerModule(lib) {
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
  const routes = require(path.join(lib, "routes"));
  const route = routes.default;
  routes.default = (req) => {
    const found = route(req);
    if (!found) return found;
    const [params, handler] = found;
    return [params, async (account, req2, res, params2) => {
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
  patchServerModule(lib);
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
