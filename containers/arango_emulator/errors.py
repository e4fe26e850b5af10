"""ArangoDB's error numbers, texts and HTTP codes, as its documentation lists them."""

from __future__ import annotations

from typing import Optional

#: errorNum -> documented error text (site/data/3.12/errors.yaml of the docs)
TEXTS = {
    4: "internal error",
    9: "not implemented",
    10: "bad parameter",
    11: "forbidden",
    17: "type error",
    400: "bad parameter",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not supported",
    412: "precondition failed",
    500: "internal server error",
    501: "not implemented",
    600: "invalid JSON object",
    1200: "conflict",
    1202: "document not found",
    1203: "collection or view not found",
    1204: "parameter 'collection' not found",
    1205: "illegal document identifier",
    1207: "duplicate name",
    1208: "illegal name",
    1210: "unique constraint violated",
    1212: "index not found",
    1213: "cross collection request not allowed",
    1214: "illegal index identifier",
    1218: "collection type invalid",
    1221: "illegal document key",
    1222: "unexpected document key",
    1226: "missing document key",
    1227: "invalid document type",
    1228: "database not found",
    1229: "database name invalid",
    1230: "operation only allowed in system database",
    1232: "invalid key generator",
    1233: ("expecting both `_from` and `_to` attributes to be defined in the edge "
           "document and have the format `<collectionName>/<vertexKey>`"),
    1235: "index creation failed",
    1239: "illegal document revision",
    1501: "%s",
    1502: "query is empty",
    1504: "number out of range",
    1510: "variable name '%s' has an invalid format",
    1511: "variable '%s' is assigned multiple times",
    1512: "unknown variable '%s'",
    1539: "unknown/invalid OPTIONS attribute used",
    1540: "usage of unknown function '%s()'",
    1541: ("invalid number of arguments for function '%s()', expected number of "
           "arguments: minimum: %d, maximum: %d"),
    1542: "invalid argument type in call to function '%s()'",
    1543: "invalid regex value",
    1550: "invalid structure of bind parameters",
    1551: "no value specified for declared bind parameter '%s'",
    1552: "bind parameter '%s' was not declared in the query",
    1553: "bind parameter '%s' has an invalid value or type",
    1562: "division by zero",
    1563: "array expected",
    1568: "collection '%s' used as expression operand",
    1569: "FAIL(%s) called",
    1573: "multi-modify query",
    1575: "query options must be readable at query compile time",
    1579: "access after data-modification by %s",
    1582: "user function '%s()' not found",
    1600: "cursor not found",
    1700: "invalid user name",
    1702: "duplicate user",
    1703: "user not found",
}

#: errorNum -> HTTP status, where the documentation ties one to the other
HTTP_STATUS = {
    4: 500, 9: 501, 10: 400, 11: 403, 17: 400, 400: 400, 401: 401, 403: 403, 404: 404,
    405: 405, 412: 412, 500: 500, 501: 501, 600: 400,
    1200: 409, 1202: 404, 1203: 404, 1204: 400, 1205: 400, 1207: 409, 1208: 400,
    1210: 409, 1212: 404, 1213: 400, 1214: 400, 1218: 400, 1221: 400, 1222: 400,
    1226: 400, 1227: 400, 1228: 404, 1229: 400, 1230: 403, 1232: 400, 1233: 400,
    1235: 400, 1239: 400, 1600: 404, 1700: 400, 1702: 409, 1703: 404,
}

#: query stages named in AQL error messages ("AQL: ... (while parsing)")
PARSING, OPTIMIZING, EXECUTING = "parsing", "optimizing ast", "executing"


class ArangoError(Exception):
    """An error the server reports as ``{error, code, errorNum, errorMessage}``."""

    def __init__(self, num: int, message: Optional[str] = None, *args,
                 status: Optional[int] = None, extra: Optional[dict] = None) -> None:
        if message is None:
            message = TEXTS.get(num, "error")
            if args:
                message = message % args
        self.num = num
        self.message = message
        self.status = status or HTTP_STATUS.get(num, 400 if 1500 <= num < 1600 else 500)
        self.extra = extra or {}
        super().__init__(f"{num}: {message}")

    def body(self) -> dict:
        body = {"code": self.status, "error": True, "errorNum": self.num,
                "errorMessage": self.message}
        body.update(self.extra)
        return body


class QueryError(ArangoError):
    """An AQL error: the message carries the 'AQL: ... (while STAGE)' frame."""

    def __init__(self, num: int, *args, message: Optional[str] = None,
                 stage: str = PARSING, status: Optional[int] = None) -> None:
        if message is None:
            message = TEXTS.get(num, "error")
            if args:
                message = message % args
        super().__init__(num, f"AQL: {message} (while {stage})", status=status)
        self.stage = stage


def query_error_from(exc: ArangoError, stage: str = EXECUTING) -> QueryError:
    """A storage error raised while a query ran, framed as AQL reports it."""
    if isinstance(exc, QueryError):
        return exc
    return QueryError(exc.num, message=exc.message, stage=stage)


def parse_error(message: str) -> QueryError:
    return QueryError(1501, message=message, stage=PARSING)
