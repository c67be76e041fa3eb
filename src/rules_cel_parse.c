/*-------------------------------------------------------------------------
 *
 * rules_cel_parse.c
 *	  The CEL lexer, parser and checker: source text to an immutable
 *	  CelProgram, with errors reported at compile time with a position.
 *
 * A recursive-descent parser over CEL's grammar (cel-spec doc/langdef.md):
 * conditional, ||, &&, relations, +/-, * / %, unary, member chains,
 * primaries.  Macros (has, all, exists, exists_one, map, filter) are
 * recognised here, identifiers are resolved to comprehension variables,
 * type names or free variables, and function names and arities are
 * checked, so that a rule is rejected when it is registered rather than
 * when the first message arrives.  The tree's height is bounded by
 * CEL_MAX_DEPTH, which bounds the evaluator's recursion too.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <setjmp.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/memutils.h"

#include "rules_cel.h"

typedef enum CelTokenKind
{
	T_EOF = 0,
	T_IDENT = 256,
	T_INT,						/* value.u holds the magnitude */
	T_UINT,
	T_DOUBLE,
	T_STRING,
	T_BYTES,
	T_TRUE,
	T_FALSE,
	T_NULL,
	T_IN,
	T_EQ,
	T_NE,
	T_LE,
	T_GE,
	T_AND,
	T_OR
} CelTokenKind;

typedef struct CelToken
{
	int			kind;			/* CelTokenKind or a punctuation character */
	int			start;			/* byte offset */
	int			len;
	CelValue	value;			/* literals */
} CelToken;

/* A growable array of nodes (arguments, list and map entries). */
typedef struct NodeVec
{
	CelNode   **items;
	int			n;
	int			cap;
} NodeVec;

typedef struct CelScope
{
	const char *name;
	int			namelen;
	int			slot;
} CelScope;

typedef struct CelParser
{
	const char *src;
	int			srclen;
	int			pos;			/* byte offset of the next token */
	CelToken	tok;			/* current token */
	int			depth;			/* recursion depth of the parser */
	CelScope	scopes[CEL_MAX_DEPTH];
	int			nscopes;
	int			nlocals;
	const char **varnames;		/* free variables, by slot */
	int			nvarnames;
	int			varcap;
	bool		allow_semicolon;
	char	   *errmsg;
	sigjmp_buf	jmp;
} CelParser;

/* Reserved words that CEL rejects as identifiers. */
static const char *const reserved_words[] = {
	"as", "break", "const", "continue", "else", "for", "function", "if",
	"import", "let", "loop", "package", "namespace", "return", "var",
	"void", "while", NULL
};

/* Type names usable as values (type(1) == int). */
static const char *const type_idents[] = {
	"int", "uint", "double", "bool", "string", "bytes", "list", "map",
	"null_type", "type", NULL
};

typedef struct CelFuncDef
{
	const char *name;
	CelFunc		func;
	int8		global_min;		/* arity as a global function; -1: none */
	int8		global_max;
	int8		method_min;		/* arity as a method; -1: none */
	int8		method_max;
} CelFuncDef;

static const CelFuncDef func_defs[] = {
	{"size", CF_SIZE, 1, 1, 0, 0},
	{"int", CF_INT, 1, 1, -1, -1},
	{"uint", CF_UINT, 1, 1, -1, -1},
	{"double", CF_DOUBLE, 1, 1, -1, -1},
	{"string", CF_STRING, 1, 1, -1, -1},
	{"bytes", CF_BYTES, 1, 1, -1, -1},
	{"bool", CF_BOOL, 1, 1, -1, -1},
	{"timestamp", CF_TIMESTAMP, 1, 1, -1, -1},
	{"duration", CF_DURATION, 1, 1, -1, -1},
	{"type", CF_TYPE, 1, 1, -1, -1},
	{"dyn", CF_DYN, 1, 1, -1, -1},
	{"contains", CF_CONTAINS, -1, -1, 1, 1},
	{"startsWith", CF_STARTS_WITH, -1, -1, 1, 1},
	{"endsWith", CF_ENDS_WITH, -1, -1, 1, 1},
	{"matches", CF_MATCHES, 2, 2, 1, 1},
	{"lowerAscii", CF_LOWER_ASCII, -1, -1, 0, 0},
	{"upperAscii", CF_UPPER_ASCII, -1, -1, 0, 0},
	{"getFullYear", CF_GET_FULL_YEAR, -1, -1, 0, 1},
	{"getMonth", CF_GET_MONTH, -1, -1, 0, 1},
	{"getDate", CF_GET_DATE, -1, -1, 0, 1},
	{"getDayOfMonth", CF_GET_DAY_OF_MONTH, -1, -1, 0, 1},
	{"getDayOfWeek", CF_GET_DAY_OF_WEEK, -1, -1, 0, 1},
	{"getDayOfYear", CF_GET_DAY_OF_YEAR, -1, -1, 0, 1},
	{"getHours", CF_GET_HOURS, -1, -1, 0, 1},
	{"getMinutes", CF_GET_MINUTES, -1, -1, 0, 1},
	{"getSeconds", CF_GET_SECONDS, -1, -1, 0, 1},
	{"getMilliseconds", CF_GET_MILLISECONDS, -1, -1, 0, 1},
	{NULL, 0, 0, 0, 0, 0}
};

static void CelNext(CelParser *p);
static void VecPush(NodeVec *v, CelNode *n);
static CelNode *ParseExpr(CelParser *p);
static CelNode *ParseOr(CelParser *p);
static CelNode *ParseAnd(CelParser *p);
static CelNode *ParseRelation(CelParser *p);
static CelNode *ParseAdditive(CelParser *p);
static CelNode *ParseMultiplicative(CelParser *p);
static CelNode *ParseUnary(CelParser *p);
static CelNode *ParseMember(CelParser *p);
static CelNode *ParsePrimary(CelParser *p);

/* Report an error at a byte offset: 1-based character position. */
static void CelFail(CelParser *p, int offset, const char *fmt,...)
			pg_attribute_printf(3, 4) pg_attribute_noreturn();

static void
CelFail(CelParser *p, int offset, const char *fmt,...)
{
	StringInfoData buf;
	int			chars = 1;
	va_list		ap;

	for (int i = 0; i < offset && i < p->srclen; i++)
		if (((unsigned char) p->src[i] & 0xC0) != 0x80)
			chars++;
	initStringInfo(&buf);
	appendStringInfo(&buf, "syntax error at position %d: ", chars);
	for (;;)
	{
		int			needed;

		va_start(ap, fmt);
		needed = appendStringInfoVA(&buf, fmt, ap);
		va_end(ap);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	p->errmsg = buf.data;
	siglongjmp(p->jmp, 1);
}

/* A short quotation of the current token, for messages. */
static char *
TokenText(CelParser *p)
{
	if (p->tok.kind == T_EOF)
		return pstrdup("end of input");
	return psprintf("'%.*s'", Min(p->tok.len, 40), p->src + p->tok.start);
}

static CelNode *
NewNode(CelParser *p, CelNodeKind kind, int offset, int nargs)
{
	CelNode    *n = palloc0(sizeof(CelNode));

	n->kind = kind;
	n->pos = offset;
	n->nargs = nargs;
	if (nargs > 0)
		n->args = palloc0(sizeof(CelNode *) * nargs);
	return n;
}

/*
 * The height of a node from its children; past CEL_MAX_DEPTH the
 * expression is rejected.  Heights are kept in the slot of non-variable
 * nodes only while parsing; see NodeHeight.
 */
static int
NodeHeight(const CelNode *n)
{
	/* value.len of non-constant nodes is free: it caches the height */
	return n->kind == CN_CONST ? 1 : n->value.len;
}

static CelNode *
Finish(CelParser *p, CelNode *n)
{
	int			h = 0;

	for (int i = 0; i < n->nargs; i++)
		h = Max(h, NodeHeight(n->args[i]));
	if (n->kind != CN_CONST)
		n->value.len = h + 1;
	if (h + 1 > CEL_MAX_DEPTH)
		CelFail(p, n->pos, "expression nests deeper than %d levels", CEL_MAX_DEPTH);
	return n;
}

/* ---------------------------------------------------------------------
 * Lexer
 * ---------------------------------------------------------------------
 */

static bool
IsIdentStart(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
IsIdentChar(char c)
{
	return IsIdentStart(c) || (c >= '0' && c <= '9');
}

static int
HexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append a code point as UTF-8, rejecting surrogates and values past U+10FFFF. */
static void
AppendCodePoint(CelParser *p, StringInfo buf, uint32 cp, int offset)
{
	unsigned char utf8[8];

	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		CelFail(p, offset, "invalid code point in escape sequence");
	unicode_to_utf8(cp, utf8);
	appendBinaryStringInfo(buf, (char *) utf8, pg_utf_mblen(utf8));
}

/* Lex a string or bytes literal starting at the quote at offset i. */
static int
LexString(CelParser *p, int i, bool raw, bool bytes, CelToken *tok)
{
	const char *s = p->src;
	char		q = s[i];
	bool		triple = (i + 2 < p->srclen && s[i + 1] == q && s[i + 2] == q);
	StringInfoData buf;

	initStringInfo(&buf);
	i += triple ? 3 : 1;
	for (;;)
	{
		char		c;

		if (i >= p->srclen)
			CelFail(p, tok->start, "unterminated string literal");
		c = s[i];
		if (c == q && (!triple || (i + 2 < p->srclen && s[i + 1] == q && s[i + 2] == q)))
		{
			i += triple ? 3 : 1;
			break;
		}
		if (!triple && (c == '\n' || c == '\r'))
			CelFail(p, tok->start, "unterminated string literal");
		if (c != '\\' || raw)
		{
			appendStringInfoChar(&buf, c);
			i++;
			continue;
		}
		/* escape sequence */
		if (i + 1 >= p->srclen)
			CelFail(p, i, "unterminated string literal");
		c = s[i + 1];
		switch (c)
		{
			case 'a':
				appendStringInfoChar(&buf, '\a');
				i += 2;
				break;
			case 'b':
				appendStringInfoChar(&buf, '\b');
				i += 2;
				break;
			case 'f':
				appendStringInfoChar(&buf, '\f');
				i += 2;
				break;
			case 'n':
				appendStringInfoChar(&buf, '\n');
				i += 2;
				break;
			case 'r':
				appendStringInfoChar(&buf, '\r');
				i += 2;
				break;
			case 't':
				appendStringInfoChar(&buf, '\t');
				i += 2;
				break;
			case 'v':
				appendStringInfoChar(&buf, '\v');
				i += 2;
				break;
			case '\\':
			case '\'':
			case '"':
			case '`':
			case '?':
				appendStringInfoChar(&buf, c);
				i += 2;
				break;
			case 'x':
			case 'X':
			case 'u':
			case 'U':
				{
					int			ndigits = (c == 'u') ? 4 : (c == 'U') ? 8 : 2;
					uint32		cp = 0;

					if (bytes && (c == 'u' || c == 'U'))
						CelFail(p, i, "unicode escape in a bytes literal");
					for (int k = 0; k < ndigits; k++)
					{
						int			h = (i + 2 + k < p->srclen) ? HexValue(s[i + 2 + k]) : -1;

						if (h < 0)
							CelFail(p, i, "invalid escape sequence");
						cp = cp * 16 + h;
					}
					if (bytes)
						appendStringInfoChar(&buf, (char) cp);
					else
						AppendCodePoint(p, &buf, cp, i);
					i += 2 + ndigits;
					break;
				}
			case '0':
			case '1':
			case '2':
			case '3':
				{
					uint32		cp = 0;

					for (int k = 0; k < 3; k++)
					{
						char		d = (i + 1 + k < p->srclen) ? s[i + 1 + k] : 0;

						if (d < '0' || d > '7')
							CelFail(p, i, "invalid escape sequence");
						cp = cp * 8 + (d - '0');
					}
					if (bytes)
						appendStringInfoChar(&buf, (char) cp);
					else
						AppendCodePoint(p, &buf, cp, i);
					i += 4;
					break;
				}
			default:
				CelFail(p, i, "invalid escape sequence '\\%c'", c);
		}
	}
	if (!bytes && pg_encoding_verifymbstr(PG_UTF8, buf.data, buf.len) != buf.len)
		CelFail(p, tok->start, "invalid UTF-8 in string literal");
	tok->kind = bytes ? T_BYTES : T_STRING;
	tok->value.type = bytes ? CEL_BYTES : CEL_STRING;
	tok->value.len = buf.len;
	tok->value.u.s = buf.data;
	return i;
}

/* Lex a number: decimal or hex int, uint (u suffix), or double. */
static int
LexNumber(CelParser *p, int i, CelToken *tok)
{
	const char *s = p->src;
	int			start = i;
	bool		isdouble = false;

	if (s[i] == '0' && i + 1 < p->srclen && (s[i + 1] == 'x' || s[i + 1] == 'X'))
	{
		uint64		v = 0;

		i += 2;
		if (i >= p->srclen || HexValue(s[i]) < 0)
			CelFail(p, start, "invalid hex literal");
		while (i < p->srclen && HexValue(s[i]) >= 0)
		{
			if (v > (PG_UINT64_MAX >> 4))
				CelFail(p, start, "integer literal out of range");
			v = v * 16 + HexValue(s[i]);
			i++;
		}
		tok->value.u.u = v;
	}
	else
	{
		while (i < p->srclen && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i + 1 < p->srclen && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')
		{
			isdouble = true;
			i++;
			while (i < p->srclen && s[i] >= '0' && s[i] <= '9')
				i++;
		}
		if (i < p->srclen && (s[i] == 'e' || s[i] == 'E'))
		{
			int			j = i + 1;

			if (j < p->srclen && (s[j] == '+' || s[j] == '-'))
				j++;
			if (j >= p->srclen || s[j] < '0' || s[j] > '9')
				CelFail(p, start, "invalid exponent in number");
			while (j < p->srclen && s[j] >= '0' && s[j] <= '9')
				j++;
			isdouble = true;
			i = j;
		}
		if (isdouble)
		{
			char	   *text = pnstrdup(s + start, i - start);

			tok->kind = T_DOUBLE;
			tok->value.type = CEL_DOUBLE;
			tok->value.u.d = strtod(text, NULL);
			return i;
		}
		else
		{
			uint64		v = 0;

			for (int k = start; k < i; k++)
			{
				if (v > PG_UINT64_MAX / 10 ||
					v * 10 > PG_UINT64_MAX - (uint64) (s[k] - '0'))
					CelFail(p, start, "integer literal out of range");
				v = v * 10 + (s[k] - '0');
			}
			tok->value.u.u = v;
		}
	}
	if (i < p->srclen && (s[i] == 'u' || s[i] == 'U'))
	{
		tok->kind = T_UINT;
		tok->value.type = CEL_UINT;
		return i + 1;
	}
	tok->kind = T_INT;
	tok->value.type = CEL_INT;
	return i;
}

/* Advance to the next token. */
static void
CelNext(CelParser *p)
{
	const char *s = p->src;
	int			i = p->pos;
	CelToken   *tok = &p->tok;

	/* whitespace and // comments */
	for (;;)
	{
		while (i < p->srclen && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
								 s[i] == '\r' || s[i] == '\f'))
			i++;
		if (i + 1 < p->srclen && s[i] == '/' && s[i + 1] == '/')
		{
			while (i < p->srclen && s[i] != '\n')
				i++;
			continue;
		}
		break;
	}
	memset(tok, 0, sizeof(CelToken));
	tok->start = i;
	if (i >= p->srclen)
	{
		tok->kind = T_EOF;
		p->pos = i;
		return;
	}

	if (IsIdentStart(s[i]))
	{
		int			j = i;
		bool		raw = false,
					bytes = false;

		/* string prefixes: r, b, rb, br (any case) */
		while (j < p->srclen && j - i < 2 && (s[j] == 'r' || s[j] == 'R' || s[j] == 'b' || s[j] == 'B'))
		{
			if (s[j] == 'r' || s[j] == 'R')
			{
				if (raw)
					break;
				raw = true;
			}
			else
			{
				if (bytes)
					break;
				bytes = true;
			}
			j++;
			if (j < p->srclen && (s[j] == '"' || s[j] == '\''))
			{
				i = LexString(p, j, raw, bytes, tok);
				tok->len = i - tok->start;
				p->pos = i;
				return;
			}
		}
		j = i;
		while (j < p->srclen && IsIdentChar(s[j]))
			j++;
		tok->kind = T_IDENT;
		tok->len = j - i;
		p->pos = j;
#define KW(w) (tok->len == (int) strlen(w) && strncmp(s + i, w, tok->len) == 0)
		if (KW("true"))
			tok->kind = T_TRUE;
		else if (KW("false"))
			tok->kind = T_FALSE;
		else if (KW("null"))
			tok->kind = T_NULL;
		else if (KW("in"))
			tok->kind = T_IN;
		else
		{
			for (int k = 0; reserved_words[k]; k++)
				if (KW(reserved_words[k]))
					CelFail(p, i, "reserved identifier '%s'", reserved_words[k]);
		}
#undef KW
		return;
	}
	if ((s[i] >= '0' && s[i] <= '9') ||
		(s[i] == '.' && i + 1 < p->srclen && s[i + 1] >= '0' && s[i + 1] <= '9'))
	{
		int			j = LexNumber(p, i, tok);

		if (j < p->srclen && (IsIdentChar(s[j]) || (s[j] == '.' && tok->kind == T_DOUBLE)))
			CelFail(p, i, "invalid number literal");
		tok->len = j - i;
		p->pos = j;
		return;
	}
	if (s[i] == '"' || s[i] == '\'')
	{
		int			j = LexString(p, i, false, false, tok);

		tok->len = j - i;
		p->pos = j;
		return;
	}

	/* operators and punctuation */
	tok->len = 1;
	if (i + 1 < p->srclen)
	{
		char		a = s[i],
					b = s[i + 1];

		tok->len = 2;
		if (a == '=' && b == '=')
			tok->kind = T_EQ;
		else if (a == '!' && b == '=')
			tok->kind = T_NE;
		else if (a == '<' && b == '=')
			tok->kind = T_LE;
		else if (a == '>' && b == '=')
			tok->kind = T_GE;
		else if (a == '&' && b == '&')
			tok->kind = T_AND;
		else if (a == '|' && b == '|')
			tok->kind = T_OR;
		else
			tok->len = 1;
	}
	if (tok->len == 1)
	{
		if (strchr("()[]{}.,:?!<>+-*/%;", s[i]) == NULL || s[i] == '\0')
		{
			int			n = pg_utf_mblen((const unsigned char *) s + i);

			CelFail(p, i, "unexpected character '%.*s'",
					Min(n, p->srclen - i), s + i);
		}
		tok->kind = (unsigned char) s[i];
	}
	p->pos = i + tok->len;
}

static void
Expect(CelParser *p, int kind, const char *what)
{
	if (p->tok.kind != kind)
		CelFail(p, p->tok.start, "expected %s, found %s", what, TokenText(p));
	CelNext(p);
}

/* ---------------------------------------------------------------------
 * Parser
 * ---------------------------------------------------------------------
 */

static void
EnterRule(CelParser *p)
{
	if (++p->depth > CEL_MAX_DEPTH)
		CelFail(p, p->tok.start, "expression nests deeper than %d levels", CEL_MAX_DEPTH);
	check_stack_depth();
}

/* expr: or ('?' or ':' expr)? */
static CelNode *
ParseExpr(CelParser *p)
{
	CelNode    *cond;

	EnterRule(p);
	cond = ParseOr(p);
	if (p->tok.kind == '?')
	{
		CelNode    *n = NewNode(p, CN_COND, p->tok.start, 3);

		CelNext(p);
		n->args[0] = cond;
		n->args[1] = ParseOr(p);
		Expect(p, ':', "':'");
		n->args[2] = ParseExpr(p);
		cond = Finish(p, n);
	}
	p->depth--;
	return cond;
}

static CelNode *
ParseOr(CelParser *p)
{
	CelNode    *left = ParseAnd(p);

	while (p->tok.kind == T_OR)
	{
		CelNode    *n = NewNode(p, CN_OR, p->tok.start, 2);

		CelNext(p);
		n->args[0] = left;
		n->args[1] = ParseAnd(p);
		left = Finish(p, n);
	}
	return left;
}

static CelNode *
ParseAnd(CelParser *p)
{
	CelNode    *left = ParseRelation(p);

	while (p->tok.kind == T_AND)
	{
		CelNode    *n = NewNode(p, CN_AND, p->tok.start, 2);

		CelNext(p);
		n->args[0] = left;
		n->args[1] = ParseRelation(p);
		left = Finish(p, n);
	}
	return left;
}

static CelNode *
Binary(CelParser *p, CelBinOp op, CelNode *left, CelNode *(*next) (CelParser *))
{
	CelNode    *n = NewNode(p, CN_BINARY, p->tok.start, 2);

	n->op = op;
	CelNext(p);
	n->args[0] = left;
	n->args[1] = next(p);
	return Finish(p, n);
}

static CelNode *
ParseRelation(CelParser *p)
{
	CelNode    *left = ParseAdditive(p);

	for (;;)
	{
		switch (p->tok.kind)
		{
			case T_EQ:
				left = Binary(p, CB_EQ, left, ParseAdditive);
				break;
			case T_NE:
				left = Binary(p, CB_NE, left, ParseAdditive);
				break;
			case '<':
				left = Binary(p, CB_LT, left, ParseAdditive);
				break;
			case T_LE:
				left = Binary(p, CB_LE, left, ParseAdditive);
				break;
			case '>':
				left = Binary(p, CB_GT, left, ParseAdditive);
				break;
			case T_GE:
				left = Binary(p, CB_GE, left, ParseAdditive);
				break;
			case T_IN:
				left = Binary(p, CB_IN, left, ParseAdditive);
				break;
			default:
				return left;
		}
	}
}

static CelNode *
ParseAdditive(CelParser *p)
{
	CelNode    *left = ParseMultiplicative(p);

	for (;;)
	{
		if (p->tok.kind == '+')
			left = Binary(p, CB_ADD, left, ParseMultiplicative);
		else if (p->tok.kind == '-')
			left = Binary(p, CB_SUB, left, ParseMultiplicative);
		else
			return left;
	}
}

static CelNode *
ParseMultiplicative(CelParser *p)
{
	CelNode    *left = ParseUnary(p);

	for (;;)
	{
		if (p->tok.kind == '*')
			left = Binary(p, CB_MUL, left, ParseUnary);
		else if (p->tok.kind == '/')
			left = Binary(p, CB_DIV, left, ParseUnary);
		else if (p->tok.kind == '%')
			left = Binary(p, CB_MOD, left, ParseUnary);
		else
			return left;
	}
}

/* unary: member | '!'+ member | '-'+ member; -9223372036854775808 is a literal. */
static CelNode *
ParseUnary(CelParser *p)
{
	CelNode    *n;

	EnterRule(p);
	if (p->tok.kind == '!' || p->tok.kind == '-')
	{
		int			op = p->tok.kind;
		int			start = p->tok.start;

		CelNext(p);
		if (op == '-' && p->tok.kind == T_INT)
		{
			/* a negative int literal, so that INT64_MIN can be written */
			CelToken	lit = p->tok;
			CelNode    *c;

			if (lit.value.u.u > (uint64) PG_INT64_MAX + 1)
				CelFail(p, lit.start, "integer literal out of range");
			c = NewNode(p, CN_CONST, start, 0);
			c->value.type = CEL_INT;
			c->value.u.i = (lit.value.u.u == (uint64) PG_INT64_MAX + 1) ?
				PG_INT64_MIN : -(int64) lit.value.u.u;
			CelNext(p);
			n = Finish(p, c);
			/* members may follow: -1.foo is (-1).foo in effect */
		}
		else
		{
			n = NewNode(p, op == '!' ? CN_NOT : CN_NEG, start, 1);
			n->args[0] = ParseUnary(p);
			n = Finish(p, n);
		}
	}
	else
		n = ParseMember(p);
	p->depth--;
	return n;
}

/* Parse "(args)" after a function name; the '(' is the current token. */
static NodeVec
ParseArgs(CelParser *p, int close)
{
	NodeVec		args = {0};

	CelNext(p);
	if (p->tok.kind != close)
	{
		for (;;)
		{
			VecPush(&args, ParseExpr(p));
			if (p->tok.kind != ',')
				break;
			CelNext(p);
			/* a trailing comma is allowed in lists and maps only */
			if (p->tok.kind == close && close != ')')
				break;
		}
	}
	Expect(p, close, close == ')' ? "')'" : close == ']' ? "']'" : "'}'");
	return args;
}

static void
VecPush(NodeVec *v, CelNode *n)
{
	if (v->n == v->cap)
	{
		v->cap = Max(4, v->cap * 2);
		v->items = v->items ? repalloc(v->items, sizeof(CelNode *) * v->cap) :
			palloc(sizeof(CelNode *) * v->cap);
	}
	v->items[v->n++] = n;
}

static CelNode *
NodeFromVec(CelParser *p, CelNodeKind kind, int offset, NodeVec args)
{
	CelNode    *n = NewNode(p, kind, offset, args.n);

	for (int i = 0; i < args.n; i++)
		n->args[i] = args.items[i];
	return n;
}

/* A checked call of a built-in function; recv is NULL for a global call. */
static CelNode *
MakeCall(CelParser *p, const char *name, int namelen, int offset, CelNode *recv, NodeVec args)
{
	int			nargs = args.n;
	CelNode    *n;
	int			i = 0;

	for (const CelFuncDef *f = func_defs; f->name; f++)
	{
		int			lo,
					hi;

		if ((int) strlen(f->name) != namelen || strncmp(f->name, name, namelen) != 0)
			continue;
		lo = recv ? f->method_min : f->global_min;
		hi = recv ? f->method_max : f->global_max;
		if (lo < 0 || nargs < lo || nargs > hi)
			CelFail(p, offset, "no matching overload for %s'%.*s' with %d argument%s",
					recv ? "method " : "", namelen, name, nargs, nargs == 1 ? "" : "s");
		n = NewNode(p, CN_CALL, offset, nargs + (recv ? 1 : 0));
		n->op = f->func;
		n->method = (recv != NULL);
		if (recv)
			n->args[i++] = recv;
		for (int k = 0; k < args.n; k++)
			n->args[i++] = args.items[k];
		return Finish(p, n);
	}
	CelFail(p, offset, "undeclared reference to function '%.*s'", namelen, name);
}

/* The comprehension macros, by method name. */
static int
MacroKind(const char *name, int len)
{
	static const char *const names[] = {"all", "exists", "exists_one", "map", "filter"};

	for (int k = 0; k < lengthof(names); k++)
		if ((int) strlen(names[k]) == len && strncmp(names[k], name, len) == 0)
			return k;
	return -1;
}

/* range.macro(var, ...): the '(' is the current token. */
static CelNode *
ParseComprehension(CelParser *p, CelMacro macro, int offset, CelNode *range)
{
	CelNode    *n;
	NodeVec		args = {0};
	CelScope   *scope;
	int			i = 0;

	CelNext(p);
	if (p->tok.kind != T_IDENT)
		CelFail(p, p->tok.start, "argument 1 of a comprehension macro must be a simple name");
	if (p->nscopes >= CEL_MAX_DEPTH)
		CelFail(p, offset, "too many nested comprehensions");
	scope = &p->scopes[p->nscopes];
	scope->name = p->src + p->tok.start;
	scope->namelen = p->tok.len;
	scope->slot = p->nlocals++;
	CelNext(p);
	Expect(p, ',', "','");
	p->nscopes++;
	for (;;)
	{
		VecPush(&args, ParseExpr(p));
		if (p->tok.kind != ',')
			break;
		CelNext(p);
	}
	p->nscopes--;
	Expect(p, ')', "')'");
	if (args.n != 1 && !(macro == CM_MAP && args.n == 2))
		CelFail(p, offset, "wrong number of arguments to a comprehension macro");
	n = NewNode(p, CN_COMPREHENSION, offset, 1 + args.n);
	n->op = macro;
	n->slot = scope->slot;
	n->args[i++] = range;
	for (int k = 0; k < args.n; k++)
		n->args[i++] = args.items[k];
	return Finish(p, n);
}

/* member: primary ('.' IDENT ('(' args ')')? | '[' expr ']')* */
static CelNode *
ParseMember(CelParser *p)
{
	CelNode    *n = ParsePrimary(p);

	for (;;)
	{
		if (p->tok.kind == '.')
		{
			int			offset;
			const char *name;
			int			namelen;

			CelNext(p);
			if (p->tok.kind != T_IDENT && p->tok.kind != T_IN &&
				p->tok.kind != T_TRUE && p->tok.kind != T_FALSE && p->tok.kind != T_NULL)
				CelFail(p, p->tok.start, "expected a field name after '.', found %s", TokenText(p));
			if (p->tok.kind != T_IDENT)
				CelFail(p, p->tok.start, "reserved identifier %s", TokenText(p));
			offset = p->tok.start;
			name = p->src + offset;
			namelen = p->tok.len;
			CelNext(p);
			if (p->tok.kind == '(')
			{
				int			macro = MacroKind(name, namelen);

				if (macro >= 0)
					n = ParseComprehension(p, (CelMacro) macro, offset, n);
				else
					n = MakeCall(p, name, namelen, offset, n, ParseArgs(p, ')'));
			}
			else
			{
				CelNode    *sel = NewNode(p, CN_SELECT, offset, 1);

				sel->args[0] = n;
				sel->name = pnstrdup(name, namelen);
				sel->namelen = namelen;
				n = Finish(p, sel);
			}
		}
		else if (p->tok.kind == '[')
		{
			CelNode    *idx = NewNode(p, CN_INDEX, p->tok.start, 2);

			CelNext(p);
			idx->args[0] = n;
			idx->args[1] = ParseExpr(p);
			Expect(p, ']', "']'");
			n = Finish(p, idx);
		}
		else
			return n;
	}
}

/* An identifier: comprehension variable, type name or free variable. */
static CelNode *
ResolveIdent(CelParser *p, const char *name, int namelen, int offset)
{
	CelNode    *n;
	int			slot;

	for (int k = p->nscopes - 1; k >= 0; k--)
	{
		if (p->scopes[k].namelen == namelen &&
			strncmp(p->scopes[k].name, name, namelen) == 0)
		{
			n = NewNode(p, CN_LOCAL, offset, 0);
			n->slot = p->scopes[k].slot;
			return Finish(p, n);
		}
	}
	for (int k = 0; type_idents[k]; k++)
	{
		if ((int) strlen(type_idents[k]) == namelen &&
			strncmp(type_idents[k], name, namelen) == 0)
		{
			n = NewNode(p, CN_CONST, offset, 0);
			n->value.type = CEL_TYPE;
			n->value.u.s = type_idents[k];
			return Finish(p, n);
		}
	}
	n = NewNode(p, CN_VAR, offset, 0);
	n->name = pnstrdup(name, namelen);
	n->namelen = namelen;
	for (slot = 0; slot < p->nvarnames; slot++)
		if (strcmp(p->varnames[slot], n->name) == 0)
			break;
	if (slot == p->nvarnames)
	{
		if (p->nvarnames == p->varcap)
		{
			p->varcap = Max(4, p->varcap * 2);
			p->varnames = p->varnames ? repalloc(p->varnames, sizeof(char *) * p->varcap) :
				palloc(sizeof(char *) * p->varcap);
		}
		p->varnames[p->nvarnames++] = n->name;
	}
	n->slot = slot;
	return Finish(p, n);
}

static CelNode *
ParsePrimary(CelParser *p)
{
	CelToken	tok = p->tok;
	CelNode    *n;

	switch (tok.kind)
	{
		case T_INT:
			if (tok.value.u.u > (uint64) PG_INT64_MAX)
				CelFail(p, tok.start, "integer literal out of range");
			/* FALLTHROUGH */
		case T_UINT:
		case T_DOUBLE:
		case T_STRING:
		case T_BYTES:
			n = NewNode(p, CN_CONST, tok.start, 0);
			n->value = tok.value;
			CelNext(p);
			return Finish(p, n);
		case T_TRUE:
		case T_FALSE:
			n = NewNode(p, CN_CONST, tok.start, 0);
			n->value.type = CEL_BOOL;
			n->value.u.b = (tok.kind == T_TRUE);
			CelNext(p);
			return Finish(p, n);
		case T_NULL:
			n = NewNode(p, CN_CONST, tok.start, 0);
			n->value.type = CEL_NULL;
			CelNext(p);
			return Finish(p, n);
		case '(':
			CelNext(p);
			n = ParseExpr(p);
			Expect(p, ')', "')'");
			return n;
		case '[':
			n = NodeFromVec(p, CN_LIST, tok.start, ParseArgs(p, ']'));
			return Finish(p, n);
		case '{':
			{
				NodeVec		entries = {0};

				CelNext(p);
				while (p->tok.kind != '}')
				{
					VecPush(&entries, ParseExpr(p));
					Expect(p, ':', "':'");
					VecPush(&entries, ParseExpr(p));
					if (p->tok.kind != ',')
						break;
					CelNext(p);
				}
				Expect(p, '}', "'}'");
				n = NodeFromVec(p, CN_MAP, tok.start, entries);
				return Finish(p, n);
			}
		case '.':
		case T_IDENT:
			{
				const char *name;
				int			namelen;
				int			offset;

				if (tok.kind == '.')
				{
					CelNext(p);
					if (p->tok.kind != T_IDENT)
						CelFail(p, p->tok.start, "expected an identifier after '.', found %s", TokenText(p));
				}
				offset = p->tok.start;
				name = p->src + offset;
				namelen = p->tok.len;
				CelNext(p);
				if (p->tok.kind == '(')
				{
					NodeVec		args;

					if (namelen == 3 && strncmp(name, "has", 3) == 0)
					{
						args = ParseArgs(p, ')');
						if (args.n != 1 || args.items[0]->kind != CN_SELECT)
							CelFail(p, offset, "invalid argument to has() macro");
						n = args.items[0];
						n->kind = CN_HAS;
						return n;
					}
					args = ParseArgs(p, ')');
					return MakeCall(p, name, namelen, offset, NULL, args);
				}
				if (p->tok.kind == '{')
					CelFail(p, p->tok.start, "message construction is not supported");
				return ResolveIdent(p, name, namelen, offset);
			}
		case T_EOF:
			CelFail(p, tok.start, "unexpected end of input");
		default:
			CelFail(p, tok.start, "unexpected %s", TokenText(p));
	}
}

/* Parse one expression of the source range [start, end). */
static CelNode *
ParseWhole(CelParser *p, int end)
{
	CelNode    *n;
	int			saved = p->srclen;

	p->srclen = end;
	CelNext(p);
	n = ParseExpr(p);
	if (p->tok.kind != T_EOF)
		CelFail(p, p->tok.start, "unexpected %s", TokenText(p));
	p->srclen = saved;
	return n;
}

/*
 * The byte offset of the guard separator: the first ';' outside string
 * literals and comments, or -1.
 */
static int
FindGuardSeparator(CelParser *p)
{
	p->pos = 0;
	for (;;)
	{
		CelNext(p);
		if (p->tok.kind == T_EOF)
			return -1;
		if (p->tok.kind == ';')
			return p->tok.start;
	}
}

/* Whether the source range holds nothing but blanks and comments. */
static bool
IsBlank(CelParser *p, int start, int end)
{
	int			saved = p->srclen;

	p->srclen = end;
	p->pos = start;
	CelNext(p);
	p->srclen = saved;
	return p->tok.kind == T_EOF;
}

CelProgram *
CelCompile(const char *expr, bool allow_guard, MemoryContext cxt, char **errmsg)
{
	MemoryContext work;
	MemoryContext oldcxt;
	MemoryContext caller = CurrentMemoryContext;
	CelParser  *p;
	CelProgram *prog;
	int			len = strlen(expr);

	*errmsg = NULL;
	if (len > CEL_MAX_EXPR_LEN)
	{
		*errmsg = psprintf("expression is longer than %d bytes", CEL_MAX_EXPR_LEN);
		return NULL;
	}
	work = AllocSetContextCreate(cxt, "CEL program", ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(work);
	p = palloc0(sizeof(CelParser));
	p->src = expr;
	p->srclen = len;
	prog = palloc0(sizeof(CelProgram));
	if (sigsetjmp(p->jmp, 0) != 0)
	{
		MemoryContextSwitchTo(caller);
		*errmsg = pstrdup(p->errmsg);
		MemoryContextDelete(work);
		return NULL;
	}
	prog->source = pstrdup(expr);
	p->src = prog->source;
	if (allow_guard)
	{
		int			sep = FindGuardSeparator(p);

		if (sep >= 0)
		{
			if (!IsBlank(p, 0, sep))
			{
				p->pos = 0;
				prog->guard = ParseWhole(p, sep);
			}
			p->pos = sep + 1;
			prog->body = ParseWhole(p, len);
		}
	}
	if (prog->body == NULL)
	{
		p->pos = 0;
		prog->body = ParseWhole(p, len);
	}
	prog->nlocals = p->nlocals;
	prog->nvars = p->nvarnames;
	prog->varnames = p->varnames;
	MemoryContextSwitchTo(oldcxt);
	return prog;
}

bool
CelProgramHasGuard(const CelProgram *prog)
{
	return prog->guard != NULL;
}
