/*-------------------------------------------------------------------------
 *
 * rules_jsonata_core.c
 *	  The JSONata interpreter: tokenizer, Pratt parser building a processed
 *	  AST (paths flattened into steps, predicates into stages), evaluator
 *	  and built-in functions.
 *
 * Semantics follow the reference implementation (jsonata-js): sequences
 * are arrays flagged JSONATA_SEQUENCE that collapse to their single item
 * or to undefined after each expression; paths map over arrays and flatten
 * one level per step.  Errors unwind with siglongjmp to the entry point,
 * which returns the message; nothing here calls ereport except palloc and
 * CHECK_FOR_INTERRUPTS, whose errors (out of memory, cancel) must propagate.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>
#include <setjmp.h>

#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "rules_jsonata.h"

/* Bounds of the parser and of the range operator. */
#define JSONATA_MAX_PARSE_DEPTH		500
#define JSONATA_MAX_RANGE			10000000
/* Check the clock and interrupts every this many evaluation steps. */
#define JSONATA_CHECK_EVERY			256

/* ---------------------------------------------------------------------
 * Tokens
 * --------------------------------------------------------------------- */
typedef enum TokType
{
	TK_END,
	TK_OP,						/* operator or punctuation, text in op */
	TK_NAME,					/* field name (also backtick-quoted) */
	TK_VARIABLE,				/* $name; "" for $, "$" for $$ */
	TK_STRING,
	TK_NUMBER,
	TK_VALUE					/* true, false, null */
} TokType;

typedef struct Token
{
	TokType		type;
	char		op[4];
	char	   *str;			/* name, variable, string */
	int			len;
	double		num;
	int			value;			/* TK_VALUE: 0 false, 1 true, 2 null */
	bool		quoted;			/* backtick name */
	int			pos;			/* 1-based character position */
} Token;

/* ---------------------------------------------------------------------
 * AST
 * --------------------------------------------------------------------- */
typedef enum JNodeType
{
	N_PATH,
	N_NAME,
	N_STRING,
	N_NUMBER,
	N_VALUE,
	N_VARIABLE,
	N_WILDCARD,
	N_DESCENDANT,
	N_BINARY,					/* arithmetic, comparison, &, in */
	N_AND,
	N_OR,
	N_NEGATE,
	N_ARRAY,					/* array constructor */
	N_OBJECT,					/* object constructor (unary {) */
	N_RANGE,
	N_CONDITION,
	N_BLOCK,
	N_BIND,
	N_CALL,
	N_LAMBDA,
	N_APPLY						/* ~> */
} JNodeType;

typedef struct JNode
{
	JNodeType	type;
	int			pos;
	char		op[4];			/* N_BINARY operator */
	char	   *str;			/* N_NAME, N_STRING, N_VARIABLE */
	int			len;
	double		num;
	JsonataValue *literal;		/* N_STRING, N_NUMBER, N_VALUE */
	struct JNode *lhs;			/* binary lhs; condition; call procedure */
	struct JNode *rhs;			/* binary rhs; then; lambda body */
	struct JNode *els;			/* else */
	struct JNode **items;		/* path steps, array items, block
								 * expressions, call arguments, lambda
								 * parameters, object keys */
	int			nitems;
	struct JNode **vals;			/* object values (with items as keys) */
	struct JNode **stages;		/* path step filters, applied per item */
	int			nstages;
	struct JNode **preds;		/* filters applied to the whole result */
	int			npreds;
	struct JNode *group;			/* grouping object constructor */
	bool		keep_array;		/* [] on this node */
	bool		consarray;		/* array constructor at either end of a
								 * path */
	bool		keep_singleton;	/* path: some step had [] */
} JNode;

struct JsonataProgram
{
	MemoryContext cxt;
	JNode	   *root;
};

/* ---------------------------------------------------------------------
 * Parser state
 * --------------------------------------------------------------------- */
typedef struct Parser
{
	const char *src;
	int			len;
	int			off;			/* byte offset of the lexer */
	int			charpos;		/* character position of off, 0-based */
	Token	   *toks;
	int			ntoks;
	int			cap;
	int			cur;			/* current token */
	int			depth;
	sigjmp_buf	jmp;
	char	   *errmsg;
} Parser;

static void parse_error(Parser *p, int pos, const char *fmt,...) pg_attribute_printf(3, 4) pg_attribute_noreturn();

/* Record a syntax error with its position and unwind to JsonataCompile. */
static void
parse_error(Parser *p, int pos, const char *fmt,...)
{
	StringInfoData buf;
	va_list		ap;

	initStringInfo(&buf);
	appendStringInfo(&buf, "syntax error at position %d: ", pos);
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

/* Operators, longest first within each first character. */
static const char *const two_char_ops[] = {
	"..", ":=", "!=", ">=", "<=", "**", "~>", "?:", "??", NULL
};
static const char single_char_ops[] = ".[]{}(),@#;:?+-*/%|=<>^&!~";

/* Append a code point as UTF-8. */
static void
append_utf8(StringInfo buf, unsigned int cp)
{
	if (cp < 0x80)
		appendStringInfoChar(buf, (char) cp);
	else if (cp < 0x800)
	{
		appendStringInfoChar(buf, (char) (0xC0 | (cp >> 6)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	else if (cp < 0x10000)
	{
		appendStringInfoChar(buf, (char) (0xE0 | (cp >> 12)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 6) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
	else
	{
		appendStringInfoChar(buf, (char) (0xF0 | (cp >> 18)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 12) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | ((cp >> 6) & 0x3F)));
		appendStringInfoChar(buf, (char) (0x80 | (cp & 0x3F)));
	}
}

/* Length in bytes of the UTF-8 sequence starting with byte c (1 if bad). */
static int
utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 1;
}

/* Advance the lexer by n bytes, keeping the character position. */
static void
lex_skip(Parser *p, int n)
{
	int			end = Min(p->off + n, p->len);

	while (p->off < end)
	{
		int			l = utf8_len((unsigned char) p->src[p->off]);

		p->off += Max(1, Min(l, end - p->off));
		p->charpos++;
	}
}

static Token *
new_token(Parser *p, TokType type, int pos)
{
	Token	   *t;

	if (p->ntoks == p->cap)
	{
		p->cap *= 2;
		p->toks = repalloc(p->toks, sizeof(Token) * p->cap);
	}
	t = &p->toks[p->ntoks++];
	memset(t, 0, sizeof(Token));
	t->type = type;
	t->pos = pos;
	return t;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read four hex digits at s into *cp; false if they are not there. */
static bool
read_hex4(const char *s, int avail, unsigned int *cp)
{
	unsigned int v = 0;

	if (avail < 4)
		return false;
	for (int i = 0; i < 4; i++)
	{
		int			h = hexval(s[i]);

		if (h < 0)
			return false;
		v = v * 16 + h;
	}
	*cp = v;
	return true;
}

/* Lex a quoted string literal starting at the quote. */
static void
lex_string(Parser *p, int pos)
{
	char		quote = p->src[p->off];
	StringInfoData buf;
	Token	   *t;

	initStringInfo(&buf);
	lex_skip(p, 1);
	for (;;)
	{
		char		c;

		if (p->off >= p->len)
			parse_error(p, pos, "string literal must be terminated by a matching quote");
		c = p->src[p->off];
		if (c == quote)
		{
			lex_skip(p, 1);
			break;
		}
		if (c == '\\')
		{
			char		e;

			if (p->off + 1 >= p->len)
				parse_error(p, pos, "string literal must be terminated by a matching quote");
			e = p->src[p->off + 1];
			switch (e)
			{
				case '"':
				case '\\':
				case '/':
					appendStringInfoChar(&buf, e);
					break;
				case 'b':
					appendStringInfoChar(&buf, '\b');
					break;
				case 'f':
					appendStringInfoChar(&buf, '\f');
					break;
				case 'n':
					appendStringInfoChar(&buf, '\n');
					break;
				case 'r':
					appendStringInfoChar(&buf, '\r');
					break;
				case 't':
					appendStringInfoChar(&buf, '\t');
					break;
				case 'u':
					{
						unsigned int cp;
						unsigned int lo;

						if (!read_hex4(p->src + p->off + 2, p->len - p->off - 2, &cp))
							parse_error(p, p->charpos + 1, "the escape sequence \\u must be followed by 4 hex digits");
						lex_skip(p, 4);
						if (cp >= 0xD800 && cp <= 0xDBFF &&
							p->off + 7 < p->len &&
							p->src[p->off + 2] == '\\' && p->src[p->off + 3] == 'u' &&
							read_hex4(p->src + p->off + 4, p->len - p->off - 4, &lo) &&
							lo >= 0xDC00 && lo <= 0xDFFF)
						{
							cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
							lex_skip(p, 6);
						}
						else if (cp >= 0xD800 && cp <= 0xDFFF)
							parse_error(p, p->charpos + 1, "unpaired surrogate in \\u escape sequence");
						append_utf8(&buf, cp);
					}
					break;
				default:
					parse_error(p, p->charpos + 1, "unsupported escape sequence: \\%c", e);
			}
			lex_skip(p, 2);
			continue;
		}
		appendStringInfoChar(&buf, c);
		p->off++;
		if (((unsigned char) c & 0xC0) != 0x80)
			p->charpos++;
	}
	t = new_token(p, TK_STRING, pos);
	t->str = buf.data;
	t->len = buf.len;
}

/* Is c a byte that ends a name? */
static bool
ends_name(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
		c == '\0' || strchr(single_char_ops, c) != NULL;
}

/* Split the whole source into tokens. */
static void
tokenize(Parser *p)
{
	for (;;)
	{
		const char *s;
		int			pos;
		char		c;
		bool		matched = false;

		/* whitespace and comments */
		while (p->off < p->len)
		{
			c = p->src[p->off];
			if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v')
				lex_skip(p, 1);
			else if (c == '/' && p->off + 1 < p->len && p->src[p->off + 1] == '*')
			{
				int			start = p->charpos + 1;
				const char *end = NULL;

				for (int i = p->off + 2; i + 1 < p->len; i++)
					if (p->src[i] == '*' && p->src[i + 1] == '/')
					{
						end = p->src + i;
						break;
					}
				if (end == NULL)
					parse_error(p, start, "comment has no closing tag");
				lex_skip(p, (int) (end - (p->src + p->off)) + 2);
			}
			else
				break;
		}
		pos = p->charpos + 1;
		if (p->off >= p->len)
		{
			new_token(p, TK_END, pos);
			return;
		}
		s = p->src + p->off;
		c = *s;
		if (c == '\0')
			parse_error(p, pos, "NUL character in expression");

		for (int i = 0; two_char_ops[i] != NULL; i++)
			if (p->off + 1 < p->len && s[0] == two_char_ops[i][0] &&
				s[1] == two_char_ops[i][1])
			{
				Token	   *t = new_token(p, TK_OP, pos);

				memcpy(t->op, two_char_ops[i], 2);
				lex_skip(p, 2);
				matched = true;
				break;
			}
		if (matched)
			continue;
		if (strchr(single_char_ops, c) != NULL)
		{
			Token	   *t = new_token(p, TK_OP, pos);

			t->op[0] = c;
			lex_skip(p, 1);
			continue;
		}
		if (c == '"' || c == '\'')
		{
			lex_string(p, pos);
			continue;
		}
		if (c >= '0' && c <= '9')
		{
			int			i = p->off;
			char	   *numstr;
			Token	   *t;

			/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([Ee][-+]?[0-9]+)? without the sign */
			if (p->src[i] == '0')
				i++;
			else
				while (i < p->len && p->src[i] >= '0' && p->src[i] <= '9')
					i++;
			if (i + 1 < p->len && p->src[i] == '.' && p->src[i + 1] >= '0' && p->src[i + 1] <= '9')
			{
				i++;
				while (i < p->len && p->src[i] >= '0' && p->src[i] <= '9')
					i++;
			}
			if (i < p->len && (p->src[i] == 'e' || p->src[i] == 'E'))
			{
				int			j = i + 1;

				if (j < p->len && (p->src[j] == '+' || p->src[j] == '-'))
					j++;
				if (j < p->len && p->src[j] >= '0' && p->src[j] <= '9')
				{
					while (j < p->len && p->src[j] >= '0' && p->src[j] <= '9')
						j++;
					i = j;
				}
			}
			numstr = pnstrdup(s, i - p->off);
			t = new_token(p, TK_NUMBER, pos);
			t->num = strtod(numstr, NULL);
			if (isinf(t->num))
				parse_error(p, pos, "number out of range: %s", numstr);
			lex_skip(p, i - p->off);
			continue;
		}
		if (c == '`')
		{
			const char *end = memchr(s + 1, '`', p->len - p->off - 1);
			Token	   *t;

			if (end == NULL)
				parse_error(p, pos, "quoted property name must be terminated with a backquote (`)");
			t = new_token(p, TK_NAME, pos);
			t->str = pnstrdup(s + 1, end - s - 1);
			t->len = end - s - 1;
			t->quoted = true;
			lex_skip(p, (int) (end - s) + 1);
			continue;
		}
		/* names, variables, keywords */
		{
			int			i = p->off;
			Token	   *t;
			int			n;

			if (c == '$')
				i++;
			while (i < p->len && !ends_name(p->src[i]))
				i++;
			n = i - p->off;
			if (c == '$')
			{
				t = new_token(p, TK_VARIABLE, pos);
				t->str = pnstrdup(s + 1, n - 1);
				t->len = n - 1;
			}
			else if ((n == 2 && strncmp(s, "or", 2) == 0) ||
					 (n == 2 && strncmp(s, "in", 2) == 0) ||
					 (n == 3 && strncmp(s, "and", 3) == 0))
			{
				t = new_token(p, TK_OP, pos);
				memcpy(t->op, s, n);
			}
			else if (n == 4 && strncmp(s, "true", 4) == 0)
				new_token(p, TK_VALUE, pos)->value = 1;
			else if (n == 5 && strncmp(s, "false", 5) == 0)
				new_token(p, TK_VALUE, pos)->value = 0;
			else if (n == 4 && strncmp(s, "null", 4) == 0)
				new_token(p, TK_VALUE, pos)->value = 2;
			else
			{
				t = new_token(p, TK_NAME, pos);
				t->str = pnstrdup(s, n);
				t->len = n;
			}
			lex_skip(p, n);
		}
	}
}

/* ---------------------------------------------------------------------
 * Parser (top-down operator precedence, as the reference implementation)
 * --------------------------------------------------------------------- */
static JNode *parse_expression(Parser *p, int rbp);

static Token *
tok(Parser *p)
{
	return &p->toks[p->cur];
}

static bool
is_op(Token *t, const char *op)
{
	return t->type == TK_OP && strcmp(t->op, op) == 0;
}

/* Describe a token for error messages. */
static const char *
tok_text(Token *t)
{
	switch (t->type)
	{
		case TK_END:
			return "end of expression";
		case TK_OP:
			return psprintf("\"%s\"", t->op);
		case TK_NAME:
			return psprintf("\"%.40s\"", t->str);
		case TK_VARIABLE:
			return psprintf("\"$%.40s\"", t->str);
		case TK_STRING:
			return psprintf("string \"%.40s\"", t->str);
		case TK_NUMBER:
			return "number";
		case TK_VALUE:
			return t->value == 1 ? "\"true\"" : t->value == 0 ? "\"false\"" : "\"null\"";
	}
	return "token";
}

/* Consume the current token, which must be the operator op. */
static void
expect(Parser *p, const char *op)
{
	Token	   *t = tok(p);

	if (!is_op(t, op))
	{
		if (t->type == TK_END)
			parse_error(p, t->pos, "expected \"%s\" before end of expression", op);
		parse_error(p, t->pos, "expected \"%s\", got %s", op, tok_text(t));
	}
	p->cur++;
}

/* Binding power of an infix operator; 0 for everything else. */
static int
left_bp(Token *t)
{
	static const struct
	{
		const char *op;
		int			bp;
	}			bps[] = {
		{".", 75}, {"[", 80}, {"{", 70}, {"(", 80}, {"@", 80}, {"#", 80},
		{"?", 20}, {"+", 50}, {"-", 50}, {"*", 60}, {"/", 60}, {"%", 60},
		{"|", 20}, {"=", 40}, {"<", 40}, {">", 40}, {"^", 40}, {"**", 60},
		{":=", 10}, {"!=", 40}, {"<=", 40}, {">=", 40}, {"~>", 40},
		{"?:", 40}, {"??", 40}, {"and", 30}, {"or", 25}, {"in", 40}, {"&", 50},
		{NULL, 0}
	};

	if (t->type != TK_OP)
		return 0;
	for (int i = 0; bps[i].op != NULL; i++)
		if (strcmp(bps[i].op, t->op) == 0)
			return bps[i].bp;
	return 0;
}

static JNode *
new_node(JNodeType type, int pos)
{
	JNode	   *n = palloc0(sizeof(JNode));

	n->type = type;
	n->pos = pos;
	return n;
}

static void
node_push(JNode ***arr, int *n, JNode *item)
{
	if (*n == 0)
		*arr = palloc(sizeof(JNode *) * 4);
	else if ((*n & (*n - 1)) == 0 && *n >= 4)
		*arr = repalloc(*arr, sizeof(JNode *) * (*n) * 2);
	(*arr)[(*n)++] = item;
}

/* Wrap a step into a one-step path. */
static JNode *
make_path(JNode *step)
{
	JNode	   *path = new_node(N_PATH, step->pos);

	node_push(&path->items, &path->nitems, step);
	if (step->keep_array)
		path->keep_singleton = true;
	return path;
}

/* Build the path lhs.rhs, as the reference implementation's ast_optimize. */
static JNode *
make_dot(Parser *p, JNode *lhs, JNode *rhs, int pos)
{
	JNode	   *path;
	JNode	   *first;
	JNode	   *last;

	if (lhs->type == N_PATH)
		path = lhs;
	else
	{
		path = new_node(N_PATH, lhs->pos);
		node_push(&path->items, &path->nitems, lhs);
	}
	if (rhs->type == N_PATH)
	{
		for (int i = 0; i < rhs->nitems; i++)
			node_push(&path->items, &path->nitems, rhs->items[i]);
		if (rhs->group != NULL)
			parse_error(p, pos, "a grouping expression cannot be followed by a path step");
	}
	else
	{
		if (rhs->npreds > 0)
		{
			rhs->stages = rhs->preds;
			rhs->nstages = rhs->npreds;
			rhs->preds = NULL;
			rhs->npreds = 0;
		}
		node_push(&path->items, &path->nitems, rhs);
	}
	for (int i = 0; i < path->nitems; i++)
	{
		JNode	   *step = path->items[i];

		if (step->type == N_NUMBER || step->type == N_VALUE)
			parse_error(p, step->pos, "the literal value cannot be used as a step within a path expression");
		if (step->type == N_STRING)
			step->type = N_NAME;
		if (step->keep_array)
			path->keep_singleton = true;
	}
	first = path->items[0];
	if (first->type == N_ARRAY)
		first->consarray = true;
	last = path->items[path->nitems - 1];
	if (last->type == N_ARRAY)
		last->consarray = true;
	return path;
}

/* Is n the name "function" or "λ" (a lambda definition)? */
static bool
is_lambda_keyword(JNode *n)
{
	JNode	   *s;

	if (n->type != N_PATH || n->nitems != 1)
		return false;
	s = n->items[0];
	if (s->type != N_NAME || s->nstages > 0 || s->npreds > 0 || s->keep_array)
		return false;
	return strcmp(s->str, "function") == 0 || strcmp(s->str, "\xCE\xBB") == 0;
}

/* Parse the comma-separated key: value pairs of an object constructor. */
static void
parse_pairs(Parser *p, JNode *obj)
{
	if (!is_op(tok(p), "}"))
	{
		for (;;)
		{
			JNode	   *k = parse_expression(p, 0);
			JNode	   *v;

			expect(p, ":");
			v = parse_expression(p, 0);
			node_push(&obj->items, &obj->nitems, k);
			obj->nitems--;
			node_push(&obj->vals, &obj->nitems, v);
			if (!is_op(tok(p), ","))
				break;
			p->cur++;
		}
	}
	expect(p, "}");
}

/* Null denotation: a token at the start of an expression. */
static JNode *
parse_prefix(Parser *p)
{
	Token	   *t = tok(p);
	JNode	   *n;

	p->cur++;
	switch (t->type)
	{
		case TK_END:
			parse_error(p, t->pos, "unexpected end of expression");
		case TK_NAME:
			n = new_node(N_NAME, t->pos);
			n->str = t->str;
			n->len = t->len;
			return make_path(n);
		case TK_VARIABLE:
			n = new_node(N_VARIABLE, t->pos);
			n->str = t->str;
			n->len = t->len;
			return n;
		case TK_STRING:
			n = new_node(N_STRING, t->pos);
			n->str = t->str;
			n->len = t->len;
			n->literal = JsonataMakeString(t->str, t->len);
			return n;
		case TK_NUMBER:
			n = new_node(N_NUMBER, t->pos);
			n->num = t->num;
			n->literal = JsonataMakeNumber(t->num);
			return n;
		case TK_VALUE:
			n = new_node(N_VALUE, t->pos);
			n->literal = t->value == 2 ? JsonataMakeNull() : JsonataMakeBool(t->value == 1);
			return n;
		case TK_OP:
			break;
	}

	if (strcmp(t->op, "and") == 0 || strcmp(t->op, "or") == 0 || strcmp(t->op, "in") == 0)
	{
		/* keywords double as field names */
		n = new_node(N_NAME, t->pos);
		n->str = pstrdup(t->op);
		n->len = strlen(t->op);
		return make_path(n);
	}
	if (strcmp(t->op, "-") == 0)
	{
		JNode	   *e = parse_expression(p, 70);

		if (e->type == N_NUMBER && e->npreds == 0 && !e->keep_array)
		{
			e->num = -e->num;
			e->literal = JsonataMakeNumber(e->num);
			return e;
		}
		n = new_node(N_NEGATE, t->pos);
		n->lhs = e;
		return n;
	}
	if (strcmp(t->op, "*") == 0)
		return new_node(N_WILDCARD, t->pos);
	if (strcmp(t->op, "**") == 0)
		return new_node(N_DESCENDANT, t->pos);
	if (strcmp(t->op, "(") == 0)
	{
		n = new_node(N_BLOCK, t->pos);
		while (!is_op(tok(p), ")"))
		{
			node_push(&n->items, &n->nitems, parse_expression(p, 0));
			if (!is_op(tok(p), ";"))
				break;
			p->cur++;
		}
		expect(p, ")");
		return n;
	}
	if (strcmp(t->op, "[") == 0)
	{
		n = new_node(N_ARRAY, t->pos);
		if (!is_op(tok(p), "]"))
		{
			for (;;)
			{
				JNode	   *item = parse_expression(p, 0);

				if (is_op(tok(p), ".."))
				{
					JNode	   *range = new_node(N_RANGE, tok(p)->pos);

					p->cur++;
					range->lhs = item;
					range->rhs = parse_expression(p, 0);
					item = range;
				}
				node_push(&n->items, &n->nitems, item);
				if (!is_op(tok(p), ","))
					break;
				p->cur++;
			}
		}
		expect(p, "]");
		return n;
	}
	if (strcmp(t->op, "{") == 0)
	{
		n = new_node(N_OBJECT, t->pos);
		parse_pairs(p, n);
		return n;
	}
	if (strcmp(t->op, "/") == 0)
		parse_error(p, t->pos, "regular expressions are not supported");
	if (strcmp(t->op, "%") == 0)
		parse_error(p, t->pos, "the parent operator %% is not supported");
	if (strcmp(t->op, "?") == 0)
		parse_error(p, t->pos, "partial function application is not supported");
	parse_error(p, t->pos, "the symbol %s cannot be used as a unary operator", tok_text(t));
}

/* Add a predicate [expr] to lhs, or mark it to keep singleton arrays ([]). */
static JNode *
parse_predicate(Parser *p, JNode *left, int pos)
{
	JNode	   *target = left;
	JNode	   *pred;

	if (left->type == N_PATH)
		target = left->items[left->nitems - 1];
	if (is_op(tok(p), "]"))
	{
		p->cur++;
		target->keep_array = true;
		if (left->type == N_PATH)
			left->keep_singleton = true;
		return left;
	}
	if (target->group != NULL)
		parse_error(p, pos, "a predicate cannot follow a grouping expression in a step");
	pred = parse_expression(p, 0);
	expect(p, "]");
	if (left->type == N_PATH)
		node_push(&target->stages, &target->nstages, pred);
	else
		node_push(&target->preds, &target->npreds, pred);
	return left;
}

/* Left denotation: an infix or postfix operator applied to left. */
static JNode *
parse_infix(Parser *p, JNode *left)
{
	Token	   *t = tok(p);
	const char *op = t->op;
	JNode	   *n;
	int			bp = left_bp(t);

	p->cur++;
	if (strcmp(op, ".") == 0)
		return make_dot(p, left, parse_expression(p, bp), t->pos);
	if (strcmp(op, "[") == 0)
		return parse_predicate(p, left, t->pos);
	if (strcmp(op, "{") == 0)
	{
		if (left->group != NULL)
			parse_error(p, t->pos, "each step can only have one grouping expression");
		n = new_node(N_OBJECT, t->pos);
		parse_pairs(p, n);
		left->group = n;
		return left;
	}
	if (strcmp(op, "(") == 0)
	{
		n = new_node(N_CALL, t->pos);
		n->lhs = left;
		if (!is_op(tok(p), ")"))
		{
			for (;;)
			{
				if (is_op(tok(p), "?"))
					parse_error(p, tok(p)->pos, "partial function application is not supported");
				node_push(&n->items, &n->nitems, parse_expression(p, 0));
				if (!is_op(tok(p), ","))
					break;
				p->cur++;
			}
		}
		expect(p, ")");
		if (is_lambda_keyword(left))
		{
			n->type = N_LAMBDA;
			for (int i = 0; i < n->nitems; i++)
				if (n->items[i]->type != N_VARIABLE || n->items[i]->npreds > 0 ||
					n->items[i]->group != NULL)
					parse_error(p, n->items[i]->pos,
								"parameter %d of function definition must be a variable name (start with $)", i + 1);
			if (is_op(tok(p), "<"))
			{
				/* a signature: skipped, arguments are not validated */
				int			depth = 0;

				do
				{
					Token	   *s = tok(p);

					if (s->type == TK_END || is_op(s, "{"))
						parse_error(p, s->pos, "unterminated function signature");
					if (is_op(s, "<"))
						depth++;
					else if (is_op(s, ">"))
						depth--;
					p->cur++;
				} while (depth > 0);
			}
			expect(p, "{");
			n->rhs = parse_expression(p, 0);
			expect(p, "}");
		}
		return n;
	}
	if (strcmp(op, "?") == 0)
	{
		n = new_node(N_CONDITION, t->pos);
		n->lhs = left;
		n->rhs = parse_expression(p, 0);
		if (is_op(tok(p), ":"))
		{
			p->cur++;
			n->els = parse_expression(p, 0);
		}
		return n;
	}
	if (strcmp(op, "?:") == 0)
	{
		n = new_node(N_CONDITION, t->pos);
		n->lhs = left;
		n->rhs = left;
		n->els = parse_expression(p, 0);
		return n;
	}
	if (strcmp(op, "??") == 0)
	{
		JNode	   *exists = new_node(N_CALL, t->pos);
		JNode	   *fn = new_node(N_VARIABLE, t->pos);

		fn->str = "exists";
		fn->len = 6;
		exists->lhs = fn;
		node_push(&exists->items, &exists->nitems, left);
		n = new_node(N_CONDITION, t->pos);
		n->lhs = exists;
		n->rhs = left;
		n->els = parse_expression(p, 0);
		return n;
	}
	if (strcmp(op, ":=") == 0)
	{
		if (left->type != N_VARIABLE)
			parse_error(p, t->pos, "the left side of := must be a variable name (start with $)");
		n = new_node(N_BIND, t->pos);
		n->lhs = left;
		n->rhs = parse_expression(p, bp - 1);
		return n;
	}
	if (strcmp(op, "~>") == 0)
	{
		n = new_node(N_APPLY, t->pos);
		n->lhs = left;
		n->rhs = parse_expression(p, bp);
		return n;
	}
	if (strcmp(op, "and") == 0 || strcmp(op, "or") == 0)
	{
		n = new_node(op[0] == 'a' ? N_AND : N_OR, t->pos);
		n->lhs = left;
		n->rhs = parse_expression(p, bp);
		return n;
	}
	if (strcmp(op, "+") == 0 || strcmp(op, "-") == 0 || strcmp(op, "*") == 0 ||
		strcmp(op, "/") == 0 || strcmp(op, "%") == 0 || strcmp(op, "=") == 0 ||
		strcmp(op, "!=") == 0 || strcmp(op, "<") == 0 || strcmp(op, "<=") == 0 ||
		strcmp(op, ">") == 0 || strcmp(op, ">=") == 0 || strcmp(op, "&") == 0 ||
		strcmp(op, "in") == 0)
	{
		n = new_node(N_BINARY, t->pos);
		strlcpy(n->op, op, sizeof(n->op));
		n->lhs = left;
		n->rhs = parse_expression(p, bp);
		return n;
	}
	if (strcmp(op, "^") == 0)
		parse_error(p, t->pos, "the order-by operator ^ is not supported");
	if (strcmp(op, "@") == 0 || strcmp(op, "#") == 0)
		parse_error(p, t->pos, "the variable binding operator %s is not supported", op);
	if (strcmp(op, "|") == 0)
		parse_error(p, t->pos, "transform expressions are not supported");
	parse_error(p, t->pos, "unexpected %s", tok_text(t));
}

/* Parse an expression whose operators bind tighter than rbp. */
static JNode *
parse_expression(Parser *p, int rbp)
{
	JNode	   *left;

	if (++p->depth > JSONATA_MAX_PARSE_DEPTH || stack_is_too_deep())
		parse_error(p, tok(p)->pos, "expression is nested too deeply");
	CHECK_FOR_INTERRUPTS();
	left = parse_prefix(p);
	while (rbp < left_bp(tok(p)))
		left = parse_infix(p, left);
	p->depth--;
	return left;
}

/* Compile an expression; see rules_jsonata.h. */
JsonataProgram *
JsonataCompile(const char *expr, MemoryContext cxt, char **errmsg)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext progcxt;
	JsonataProgram *prog;
	Parser	   *p;

	progcxt = AllocSetContextCreate(cxt, "JSONata program", ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(progcxt);
	prog = palloc0(sizeof(JsonataProgram));
	prog->cxt = progcxt;
	p = palloc0(sizeof(Parser));
	p->src = expr;
	p->len = strlen(expr);
	p->cap = 16;
	p->toks = palloc(sizeof(Token) * p->cap);
	if (sigsetjmp(p->jmp, 0) != 0)
	{
		MemoryContextSwitchTo(caller);
		*errmsg = pstrdup(p->errmsg);
		MemoryContextDelete(progcxt);
		return NULL;
	}
	tokenize(p);
	prog->root = parse_expression(p, 0);
	if (tok(p)->type != TK_END)
		parse_error(p, tok(p)->pos, "unexpected %s", tok_text(tok(p)));
	MemoryContextSwitchTo(caller);
	return prog;
}

/* Free a compiled program. */
void
JsonataFree(JsonataProgram *prog)
{
	if (prog != NULL)
		MemoryContextDelete(prog->cxt);
}

/* ---------------------------------------------------------------------
 * Values
 * --------------------------------------------------------------------- */
typedef struct Frame
{
	struct Frame *parent;
	int			n;
	int			cap;
	const char **names;
	JsonataValue **vals;
} Frame;

typedef struct JsonataFunction
{
	int			builtin;		/* index into builtins[], or -1 */
	const JNode *lambda;
	Frame	   *env;
	JsonataValue *input;		/* context where the lambda was defined */
} JsonataFunction;

typedef struct Eval
{
	sigjmp_buf	jmp;
	char	   *errmsg;
	int			depth;
	int			max_depth;
	int			timeout_ms;
	TimestampTz deadline;		/* 0 when unbounded */
	uint32		steps;
	JsonataValue **builtin_vals;	/* function values, made on first use */
} Eval;

static JsonataValue null_value = {JSONATA_NULL};
static JsonataValue true_value = {JSONATA_BOOL, 0, 0, 0, {.boolean = true}};
static JsonataValue false_value = {JSONATA_BOOL, 0, 0, 0, {.boolean = false}};

JsonataValue *
JsonataMakeNull(void)
{
	return &null_value;
}

JsonataValue *
JsonataMakeBool(bool b)
{
	return b ? &true_value : &false_value;
}

JsonataValue *
JsonataMakeNumber(double d)
{
	JsonataValue *v = palloc(sizeof(JsonataValue));

	v->type = JSONATA_NUMBER;
	v->flags = 0;
	v->u.number = d;
	return v;
}

JsonataValue *
JsonataMakeString(const char *s, int len)
{
	JsonataValue *v = palloc(sizeof(JsonataValue));

	v->type = JSONATA_STRING;
	v->flags = 0;
	v->n = len;
	v->u.str = palloc(len + 1);
	memcpy(v->u.str, s, len);
	v->u.str[len] = '\0';
	return v;
}

JsonataValue *
JsonataMakeArray(int cap)
{
	JsonataValue *v = palloc(sizeof(JsonataValue));

	v->type = JSONATA_ARRAY;
	v->flags = 0;
	v->n = 0;
	v->cap = Max(cap, 4);
	v->u.items = palloc(sizeof(JsonataValue *) * v->cap);
	return v;
}

JsonataValue *
JsonataMakeObject(int cap)
{
	JsonataValue *v = palloc(sizeof(JsonataValue));

	v->type = JSONATA_OBJECT;
	v->flags = 0;
	v->n = 0;
	v->cap = Max(cap, 4);
	v->u.obj.keys = palloc(sizeof(char *) * v->cap);
	v->u.obj.klens = palloc(sizeof(int) * v->cap);
	v->u.obj.vals = palloc(sizeof(JsonataValue *) * v->cap);
	return v;
}

void
JsonataArrayPush(JsonataValue *arr, JsonataValue *v)
{
	if (arr->n == arr->cap)
	{
		arr->cap *= 2;
		arr->u.items = repalloc(arr->u.items, sizeof(JsonataValue *) * arr->cap);
	}
	arr->u.items[arr->n++] = v;
}

/* Index of key in obj, or -1. */
static int
object_find(const JsonataValue *obj, const char *key, int klen)
{
	for (int i = 0; i < obj->n; i++)
		if (obj->u.obj.klens[i] == klen && memcmp(obj->u.obj.keys[i], key, klen) == 0)
			return i;
	return -1;
}

void
JsonataObjectSet(JsonataValue *obj, const char *key, int klen, JsonataValue *v)
{
	int			i = object_find(obj, key, klen);

	if (i >= 0)
	{
		obj->u.obj.vals[i] = v;
		return;
	}
	if (obj->n == obj->cap)
	{
		obj->cap *= 2;
		obj->u.obj.keys = repalloc(obj->u.obj.keys, sizeof(char *) * obj->cap);
		obj->u.obj.klens = repalloc(obj->u.obj.klens, sizeof(int) * obj->cap);
		obj->u.obj.vals = repalloc(obj->u.obj.vals, sizeof(JsonataValue *) * obj->cap);
	}
	obj->u.obj.keys[obj->n] = pnstrdup(key, klen);
	obj->u.obj.klens[obj->n] = klen;
	obj->u.obj.vals[obj->n] = v;
	obj->n++;
}

static inline bool
is_array(const JsonataValue *v)
{
	return v != NULL && v->type == JSONATA_ARRAY;
}

static inline bool
is_sequence(const JsonataValue *v)
{
	return is_array(v) && (v->flags & JSONATA_SEQUENCE) != 0;
}

static JsonataValue *
seq_new(int cap)
{
	JsonataValue *v = JsonataMakeArray(cap);

	v->flags = JSONATA_SEQUENCE;
	return v;
}

/* Items of v seen as a sequence: an array's items, else v alone. */
static JsonataValue **
as_items(JsonataValue **v, int *n)
{
	if (is_array(*v))
	{
		*n = (*v)->n;
		return (*v)->u.items;
	}
	*n = 1;
	return v;
}

/* ---------------------------------------------------------------------
 * Number formatting, as JavaScript prints numbers
 * --------------------------------------------------------------------- */

/* Shortest round-trip digits of d > 0: digits into buf, returns exponent k
 * such that d = 0.DIGITS * 10^k. */
static int
shortest_digits(double d, char *digits, int precision)
{
	char		buf[64];
	int			exp10;
	int			nd = 0;

	if (precision > 0)
		snprintf(buf, sizeof(buf), "%.*e", precision - 1, d);
	else
	{
		for (int p = 0; p < 17; p++)
		{
			snprintf(buf, sizeof(buf), "%.*e", p, d);
			if (strtod(buf, NULL) == d)
				break;
		}
	}
	/* buf is D.DDDDe[+-]XX */
	for (char *c = buf; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			digits[nd++] = *c;
	exp10 = atoi(strchr(buf, 'e') + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	return exp10 + 1;
}

void
JsonataFormatNumber(double d, char *buf, size_t size)
{
	char		digits[32];
	int			k;
	int			n;
	StringInfoData s;

	if (isnan(d))
	{
		strlcpy(buf, "NaN", size);
		return;
	}
	if (isinf(d))
	{
		strlcpy(buf, d < 0 ? "-Infinity" : "Infinity", size);
		return;
	}
	if (d == 0)
	{
		strlcpy(buf, "0", size);
		return;
	}
	initStringInfo(&s);
	if (d < 0)
	{
		appendStringInfoChar(&s, '-');
		d = -d;
	}
	n = shortest_digits(d, digits, 0);
	k = strlen(digits);
	if (k <= n && n <= 21)
	{
		appendStringInfoString(&s, digits);
		for (int i = 0; i < n - k; i++)
			appendStringInfoChar(&s, '0');
	}
	else if (0 < n && n <= 21)
		appendStringInfo(&s, "%.*s.%s", n, digits, digits + n);
	else if (-6 < n && n <= 0)
	{
		appendStringInfoString(&s, "0.");
		for (int i = 0; i < -n; i++)
			appendStringInfoChar(&s, '0');
		appendStringInfoString(&s, digits);
	}
	else
	{
		appendStringInfoChar(&s, digits[0]);
		if (k > 1)
			appendStringInfo(&s, ".%s", digits + 1);
		appendStringInfo(&s, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
	}
	strlcpy(buf, s.data, size);
	pfree(s.data);
}

/* d rounded to 15 significant digits, as Number(d.toPrecision(15)). */
static double
round15(double d)
{
	char		buf[64];

	if (d == 0 || !isfinite(d))
		return d;
	snprintf(buf, sizeof(buf), "%.14e", d);
	return strtod(buf, NULL);
}

/* ---------------------------------------------------------------------
 * Errors and bounds
 * --------------------------------------------------------------------- */
static void eval_error(Eval *ev, int pos, const char *code, const char *fmt,...) pg_attribute_printf(4, 5) pg_attribute_noreturn();

/* Record a runtime error "CODE at position N: message" and unwind. */
static void
eval_error(Eval *ev, int pos, const char *code, const char *fmt,...)
{
	StringInfoData buf;
	va_list		ap;

	initStringInfo(&buf);
	if (pos > 0)
		appendStringInfo(&buf, "%s at position %d: ", code, pos);
	else
		appendStringInfo(&buf, "%s: ", code);
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
	ev->errmsg = buf.data;
	siglongjmp(ev->jmp, 1);
}

/* Check for cancellation and the wall-clock bound. */
static void
check_time(Eval *ev, int pos)
{
	CHECK_FOR_INTERRUPTS();
	if (ev->deadline != 0 && GetCurrentTimestamp() >= ev->deadline)
		eval_error(ev, 0, "U1001", "expression evaluation timeout after %d ms; check for an infinite loop",
				   ev->timeout_ms);
}

static inline void
count_step(Eval *ev, int pos)
{
	if ((++ev->steps % JSONATA_CHECK_EVERY) == 0)
		check_time(ev, pos);
}

static void stringify(Eval *ev, StringInfo buf, const JsonataValue *v, bool pretty, int indent, bool js_numbers);

/* A short rendering of a value for error messages. */
static const char *
describe(Eval *ev, const JsonataValue *v)
{
	StringInfoData buf;

	if (v == NULL)
		return "undefined";
	if (v->type == JSONATA_FUNCTION)
		return "a function";
	initStringInfo(&buf);
	stringify(ev, &buf, v, false, 0, false);
	if (buf.len > 60)
	{
		int			cut = 57;

		while (cut > 0 && ((unsigned char) buf.data[cut] & 0xC0) == 0x80)
			cut--;
		buf.data[cut] = '\0';
		buf.len = cut;
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/* ---------------------------------------------------------------------
 * JSON rendering ($string and messages)
 * --------------------------------------------------------------------- */
static void
append_json_string(StringInfo buf, const char *s, int len)
{
	appendStringInfoChar(buf, '"');
	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '"':
				appendStringInfoString(buf, "\\\"");
				break;
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			case '\b':
				appendStringInfoString(buf, "\\b");
				break;
			case '\f':
				appendStringInfoString(buf, "\\f");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			default:
				if (c < 0x20)
					appendStringInfo(buf, "\\u%04x", c);
				else
					appendStringInfoChar(buf, (char) c);
		}
	}
	appendStringInfoChar(buf, '"');
}

static void
append_indent(StringInfo buf, bool pretty, int indent)
{
	if (!pretty)
		return;
	appendStringInfoChar(buf, '\n');
	for (int i = 0; i < indent; i++)
		appendStringInfoString(buf, "  ");
}

/*
 * JSON.stringify: js_numbers rounds numbers to 15 significant digits as
 * $string does; functions render as "".
 */
static void
stringify(Eval *ev, StringInfo buf, const JsonataValue *v, bool pretty, int indent, bool js_numbers)
{
	char		num[64];

	if (stack_is_too_deep())
		eval_error(ev, 0, "U1001", "value nested too deeply to render");
	switch (v->type)
	{
		case JSONATA_NULL:
			appendStringInfoString(buf, "null");
			break;
		case JSONATA_BOOL:
			appendStringInfoString(buf, v->u.boolean ? "true" : "false");
			break;
		case JSONATA_NUMBER:
			if (!isfinite(v->u.number))
				appendStringInfoString(buf, "null");
			else
			{
				double		d = v->u.number;

				/* $string rounds non-integers to 15 significant digits */
				if (js_numbers && d != floor(d))
					d = round15(d);
				JsonataFormatNumber(d, num, sizeof(num));
				appendStringInfoString(buf, num);
			}
			break;
		case JSONATA_STRING:
			append_json_string(buf, v->u.str, v->n);
			break;
		case JSONATA_FUNCTION:
			appendStringInfoString(buf, "\"\"");
			break;
		case JSONATA_ARRAY:
			appendStringInfoChar(buf, '[');
			for (int i = 0; i < v->n; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				append_indent(buf, pretty, indent + 1);
				stringify(ev, buf, v->u.items[i], pretty, indent + 1, js_numbers);
			}
			if (v->n > 0)
				append_indent(buf, pretty, indent);
			appendStringInfoChar(buf, ']');
			break;
		case JSONATA_OBJECT:
			appendStringInfoChar(buf, '{');
			for (int i = 0; i < v->n; i++)
			{
				if (i > 0)
					appendStringInfoChar(buf, ',');
				append_indent(buf, pretty, indent + 1);
				append_json_string(buf, v->u.obj.keys[i], v->u.obj.klens[i]);
				appendStringInfoString(buf, pretty ? ": " : ":");
				stringify(ev, buf, v->u.obj.vals[i], pretty, indent + 1, js_numbers);
			}
			if (v->n > 0)
				append_indent(buf, pretty, indent);
			appendStringInfoChar(buf, '}');
			break;
	}
}

/* ---------------------------------------------------------------------
 * Helpers shared by operators and functions
 * --------------------------------------------------------------------- */

/* JSONata's $boolean: -1 for undefined, else 0 or 1. */
static int
to_boolean(const JsonataValue *v)
{
	if (v == NULL)
		return -1;
	switch (v->type)
	{
		case JSONATA_NULL:
		case JSONATA_FUNCTION:
			return 0;
		case JSONATA_BOOL:
			return v->u.boolean ? 1 : 0;
		case JSONATA_NUMBER:
			return v->u.number != 0 ? 1 : 0;
		case JSONATA_STRING:
			return v->n > 0 ? 1 : 0;
		case JSONATA_OBJECT:
			return v->n > 0 ? 1 : 0;
		case JSONATA_ARRAY:
			if (v->n == 1)
				return to_boolean(v->u.items[0]) == 1 ? 1 : 0;
			for (int i = 0; i < v->n; i++)
				if (to_boolean(v->u.items[i]) == 1)
					return 1;
			return 0;
	}
	return 0;
}

static bool
deep_equal(const JsonataValue *a, const JsonataValue *b)
{
	if (a == b)
		return true;
	if (a == NULL || b == NULL || a->type != b->type)
		return false;
	switch (a->type)
	{
		case JSONATA_NULL:
			return true;
		case JSONATA_BOOL:
			return a->u.boolean == b->u.boolean;
		case JSONATA_NUMBER:
			return a->u.number == b->u.number;
		case JSONATA_STRING:
			return a->n == b->n && memcmp(a->u.str, b->u.str, a->n) == 0;
		case JSONATA_FUNCTION:
			return a->u.fn == b->u.fn;
		case JSONATA_ARRAY:
			if (a->n != b->n)
				return false;
			for (int i = 0; i < a->n; i++)
				if (!deep_equal(a->u.items[i], b->u.items[i]))
					return false;
			return true;
		case JSONATA_OBJECT:
			if (a->n != b->n)
				return false;
			for (int i = 0; i < a->n; i++)
			{
				int			j = object_find(b, a->u.obj.keys[i], a->u.obj.klens[i]);

				if (j < 0 || !deep_equal(a->u.obj.vals[i], b->u.obj.vals[j]))
					return false;
			}
			return true;
	}
	return false;
}

/* fn.append: concatenate, treating non-arrays as one-item arrays. */
static JsonataValue *
append_values(JsonataValue *a, JsonataValue *b)
{
	JsonataValue *r;
	JsonataValue **ai;
	JsonataValue **bi;
	int			an;
	int			bn;

	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	ai = as_items(&a, &an);
	bi = as_items(&b, &bn);
	r = JsonataMakeArray(an + bn);
	for (int i = 0; i < an; i++)
		JsonataArrayPush(r, ai[i]);
	for (int i = 0; i < bn; i++)
		JsonataArrayPush(r, bi[i]);
	return r;
}

/* fn.lookup: the field key of an object, mapped and flattened over arrays. */
static JsonataValue *
lookup_field(JsonataValue *input, const char *key, int klen)
{
	if (input == NULL)
		return NULL;
	if (input->type == JSONATA_ARRAY)
	{
		JsonataValue *r = seq_new(input->n);

		for (int i = 0; i < input->n; i++)
		{
			JsonataValue *v = lookup_field(input->u.items[i], key, klen);

			if (v == NULL)
				continue;
			if (is_array(v))
				for (int j = 0; j < v->n; j++)
					JsonataArrayPush(r, v->u.items[j]);
			else
				JsonataArrayPush(r, v);
		}
		return r;
	}
	if (input->type == JSONATA_OBJECT)
	{
		int			i = object_find(input, key, klen);

		return i >= 0 ? input->u.obj.vals[i] : NULL;
	}
	return NULL;
}

static JsonataValue *make_string_buf(StringInfo buf);

/* JSONata's $string of a defined value. */
static JsonataValue *
to_string_value(Eval *ev, JsonataValue *v, bool pretty, int pos)
{
	StringInfoData buf;

	if (v == NULL || v->type == JSONATA_STRING)
		return v;
	if (v->type == JSONATA_FUNCTION)
		return JsonataMakeString("", 0);
	if (v->type == JSONATA_NUMBER && !isfinite(v->u.number))
		eval_error(ev, pos, "D3001", "attempting to invoke string function on Infinity or NaN");
	initStringInfo(&buf);
	stringify(ev, &buf, v, pretty, 0, true);
	return make_string_buf(&buf);
}

static JsonataValue *
make_string_buf(StringInfo buf)
{
	JsonataValue *v = palloc(sizeof(JsonataValue));

	v->type = JSONATA_STRING;
	v->flags = 0;
	v->n = buf->len;
	v->u.str = buf->data;
	return v;
}

static JsonataValue *
make_number(Eval *ev, double d, int pos)
{
	if (!isfinite(d))
		eval_error(ev, pos, "D1001", "number out of range");
	if (d == 0)
		d = 0;					/* no -0 */
	return JsonataMakeNumber(d);
}

/* ---------------------------------------------------------------------
 * Environment
 * --------------------------------------------------------------------- */
static Frame *
frame_new(Frame *parent)
{
	Frame	   *f = palloc0(sizeof(Frame));

	f->parent = parent;
	return f;
}

static void
frame_bind(Frame *f, const char *name, JsonataValue *v)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->names[i], name) == 0)
		{
			f->vals[i] = v;
			return;
		}
	if (f->n == f->cap)
	{
		f->cap = Max(4, f->cap * 2);
		if (f->names == NULL)
		{
			f->names = palloc(sizeof(char *) * f->cap);
			f->vals = palloc(sizeof(JsonataValue *) * f->cap);
		}
		else
		{
			f->names = repalloc(f->names, sizeof(char *) * f->cap);
			f->vals = repalloc(f->vals, sizeof(JsonataValue *) * f->cap);
		}
	}
	f->names[f->n] = name;
	f->vals[f->n] = v;
	f->n++;
}

/* Look a variable up; *found tells a bound undefined from an unbound name. */
static JsonataValue *
frame_lookup(Frame *f, const char *name, bool *found)
{
	for (; f != NULL; f = f->parent)
		for (int i = 0; i < f->n; i++)
			if (strcmp(f->names[i], name) == 0)
			{
				*found = true;
				return f->vals[i];
			}
	*found = false;
	return NULL;
}


/* ---------------------------------------------------------------------
 * Evaluator
 * --------------------------------------------------------------------- */
static JsonataValue *eval_node(Eval *ev, const JNode *n, JsonataValue *input, Frame *env);
static JsonataValue *apply_function(Eval *ev, JsonataValue *fn, JsonataValue **args, int nargs,
									JsonataValue *context, int pos);
static JsonataValue *builtin_value(Eval *ev, const char *name);

/* Is v an array whose items are all numbers (an index list)? */
static bool
is_array_of_numbers(const JsonataValue *v)
{
	if (!is_array(v))
		return false;
	for (int i = 0; i < v->n; i++)
		if (v->u.items[i] == NULL || v->u.items[i]->type != JSONATA_NUMBER)
			return false;
	return true;
}

/* Apply a predicate [pred] to input: an index or a filter per item. */
static JsonataValue *
eval_filter(Eval *ev, const JNode *pred, JsonataValue *input, Frame *env)
{
	JsonataValue *results = seq_new(4);
	JsonataValue **items;
	int			nitems;

	items = as_items(&input, &nitems);
	if (pred->type == N_NUMBER)
	{
		double		idx = floor(pred->num);

		if (idx < 0)
			idx += nitems;
		if (idx >= 0 && idx < nitems)
		{
			JsonataValue *item = items[(int) idx];

			if (is_array(item))
				return item;
			if (item != NULL)
				JsonataArrayPush(results, item);
		}
		return results;
	}
	for (int i = 0; i < nitems; i++)
	{
		JsonataValue *item = items[i];
		JsonataValue *r = eval_node(ev, pred, item, env);

		if (r != NULL && r->type == JSONATA_NUMBER)
		{
			double		idx = floor(r->u.number);

			if (idx < 0)
				idx += nitems;
			if (idx == i && item != NULL)
				JsonataArrayPush(results, item);
		}
		else if (is_array_of_numbers(r))
		{
			for (int j = 0; j < r->n; j++)
			{
				double		idx = floor(r->u.items[j]->u.number);

				if (idx < 0)
					idx += nitems;
				if (idx == i && item != NULL)
					JsonataArrayPush(results, item);
			}
		}
		else if (to_boolean(r) == 1 && item != NULL)
			JsonataArrayPush(results, item);
	}
	return results;
}

/* Evaluate one path step on each input item, apply its stages, flatten. */
static JsonataValue *
eval_step(Eval *ev, const JNode *step, JsonataValue **items, int nitems, Frame *env, bool last)
{
	JsonataValue *result = seq_new(nitems);
	JsonataValue *flat;

	for (int i = 0; i < nitems; i++)
	{
		JsonataValue *r = eval_node(ev, step, items[i], env);

		for (int s = 0; s < step->nstages; s++)
			r = eval_filter(ev, step->stages[s], r, env);
		if (r != NULL)
			JsonataArrayPush(result, r);
	}
	if (last && result->n == 1 && is_array(result->u.items[0]) &&
		!is_sequence(result->u.items[0]))
		return result->u.items[0];
	flat = seq_new(result->n);
	for (int i = 0; i < result->n; i++)
	{
		JsonataValue *r = result->u.items[i];

		if (!is_array(r) || (r->flags & JSONATA_CONS))
			JsonataArrayPush(flat, r);
		else
			for (int j = 0; j < r->n; j++)
				JsonataArrayPush(flat, r->u.items[j]);
	}
	return flat;
}

static JsonataValue *eval_group(Eval *ev, const JNode *group, JsonataValue *input, Frame *env);

/* A location path: each step maps over the results of the previous one. */
static JsonataValue *
eval_path(Eval *ev, const JNode *n, JsonataValue *input, Frame *env)
{
	JsonataValue **items;
	int			nitems;
	JsonataValue *res = NULL;

	if (is_array(input) && n->items[0]->type != N_VARIABLE)
	{
		items = input->u.items;
		nitems = input->n;
	}
	else
	{
		items = palloc(sizeof(JsonataValue *));
		items[0] = input;
		nitems = 1;
	}
	for (int i = 0; i < n->nitems; i++)
	{
		const JNode *step = n->items[i];

		if (i == 0 && step->consarray)
		{
			JsonataValue *seq = seq_new(nitems);

			for (int j = 0; j < nitems; j++)
				if (items[j] != NULL)
					JsonataArrayPush(seq, items[j]);
			res = eval_node(ev, step, seq, env);
		}
		else
			res = eval_step(ev, step, items, nitems, env, i == n->nitems - 1);
		if (res == NULL || (is_array(res) && res->n == 0))
			break;
		if (is_array(res))
		{
			items = res->u.items;
			nitems = res->n;
		}
		else
			nitems = 0;			/* as the reference: a non-array has no items */
	}
	if (n->keep_singleton && is_array(res))
	{
		if ((res->flags & JSONATA_CONS) && !(res->flags & JSONATA_SEQUENCE))
		{
			JsonataValue *seq = seq_new(1);

			JsonataArrayPush(seq, res);
			res = seq;
		}
		if (res->flags & JSONATA_SEQUENCE)
			res->flags |= JSONATA_KEEP;
	}
	if (n->group != NULL)
		res = eval_group(ev, n->group, res, env);
	return res;
}

typedef struct GroupEntry
{
	JsonataValue *key;
	int			expr;
	JsonataValue *data;
} GroupEntry;

/* Object constructor: group the input items by key, evaluate each value. */
static JsonataValue *
eval_group(Eval *ev, const JNode *group, JsonataValue *input, Frame *env)
{
	JsonataValue *result;
	JsonataValue **items;
	int			nitems;
	GroupEntry *groups = NULL;
	int			ngroups = 0;
	int			cap = 0;
	JsonataValue *none = NULL;

	items = as_items(&input, &nitems);
	if (nitems == 0)
	{
		items = &none;
		nitems = 1;
	}
	for (int i = 0; i < nitems; i++)
	{
		for (int p = 0; p < group->nitems; p++)
		{
			JsonataValue *key = eval_node(ev, group->items[p], items[i], env);
			int			g;

			if (key == NULL)
				continue;
			if (key->type != JSONATA_STRING)
				eval_error(ev, group->items[p]->pos, "T1003",
						   "key in object structure must evaluate to a string; got: %s",
						   describe(ev, key));
			for (g = 0; g < ngroups; g++)
				if (groups[g].key->n == key->n && memcmp(groups[g].key->u.str, key->u.str, key->n) == 0)
					break;
			if (g < ngroups)
			{
				if (groups[g].expr != p)
					eval_error(ev, group->items[p]->pos, "D1009",
							   "multiple key definitions evaluate to same key: %s", describe(ev, key));
				groups[g].data = append_values(groups[g].data, items[i]);
				continue;
			}
			if (ngroups == cap)
			{
				cap = Max(8, cap * 2);
				groups = groups ? repalloc(groups, sizeof(GroupEntry) * cap)
					: palloc(sizeof(GroupEntry) * cap);
			}
			groups[ngroups].key = key;
			groups[ngroups].expr = p;
			groups[ngroups].data = items[i];
			ngroups++;
		}
	}
	result = JsonataMakeObject(ngroups);
	for (int g = 0; g < ngroups; g++)
	{
		JsonataValue *v = eval_node(ev, group->vals[groups[g].expr], groups[g].data, env);

		if (v != NULL)
			JsonataObjectSet(result, groups[g].key->u.str, groups[g].key->n, v);
	}
	return result;
}

/* Arithmetic, comparison, concatenation and membership. */
static JsonataValue *
eval_binary(Eval *ev, const JNode *n, JsonataValue *input, Frame *env)
{
	JsonataValue *l = eval_node(ev, n->lhs, input, env);
	JsonataValue *r = eval_node(ev, n->rhs, input, env);
	const char *op = n->op;

	switch (op[0])
	{
		case '+':
		case '-':
		case '*':
		case '/':
		case '%':
			{
				double		a,
							b,
							x;

				if (l != NULL && l->type != JSONATA_NUMBER)
					eval_error(ev, n->pos, "T2001", "the left side of the \"%s\" operator must evaluate to a number", op);
				if (r != NULL && r->type != JSONATA_NUMBER)
					eval_error(ev, n->pos, "T2002", "the right side of the \"%s\" operator must evaluate to a number", op);
				if (l == NULL || r == NULL)
					return NULL;
				a = l->u.number;
				b = r->u.number;
				if (op[0] == '+')
					x = a + b;
				else if (op[0] == '-')
					x = a - b;
				else if (op[0] == '*')
					x = a * b;
				else if (op[0] == '/')
					x = a / b;
				else
					x = fmod(a, b);
				return make_number(ev, x, n->pos);
			}
		case '&':
			{
				StringInfoData buf;
				JsonataValue *ls = to_string_value(ev, l, false, n->pos);
				JsonataValue *rs = to_string_value(ev, r, false, n->pos);

				initStringInfo(&buf);
				if (ls != NULL)
					appendBinaryStringInfo(&buf, ls->u.str, ls->n);
				if (rs != NULL)
					appendBinaryStringInfo(&buf, rs->u.str, rs->n);
				return make_string_buf(&buf);
			}
		case 'i':				/* in */
			{
				JsonataValue **items;
				int			nitems;

				if (l == NULL || r == NULL)
					return JsonataMakeBool(false);
				items = as_items(&r, &nitems);
				for (int i = 0; i < nitems; i++)
				{
					JsonataValue *x = items[i];

					if (x == NULL)
						continue;
					if (x == l ||
						(x->type == l->type && x->type != JSONATA_ARRAY &&
						 x->type != JSONATA_OBJECT && x->type != JSONATA_FUNCTION &&
						 deep_equal(x, l)))
						return JsonataMakeBool(true);
				}
				return JsonataMakeBool(false);
			}
		default:
			break;
	}
	if (strcmp(op, "=") == 0 || strcmp(op, "!=") == 0)
	{
		if (l == NULL || r == NULL)
			return JsonataMakeBool(false);
		return JsonataMakeBool(deep_equal(l, r) == (op[0] == '='));
	}
	/* < <= > >= */
	{
		bool		lc = l == NULL || l->type == JSONATA_NUMBER || l->type == JSONATA_STRING;
		bool		rc = r == NULL || r->type == JSONATA_NUMBER || r->type == JSONATA_STRING;
		int			cmp;

		if (!lc || !rc)
			eval_error(ev, n->pos, "T2010",
					   "the expressions either side of operator \"%s\" must evaluate to numeric or string values", op);
		if (l == NULL || r == NULL)
			return NULL;
		if (l->type != r->type)
			eval_error(ev, n->pos, "T2009",
					   "the values %s and %s either side of operator \"%s\" must be of the same data type",
					   describe(ev, l), describe(ev, r), op);
		if (l->type == JSONATA_NUMBER)
			cmp = l->u.number < r->u.number ? -1 : l->u.number > r->u.number ? 1 : 0;
		else
		{
			cmp = memcmp(l->u.str, r->u.str, Min(l->n, r->n));
			if (cmp == 0)
				cmp = l->n < r->n ? -1 : l->n > r->n ? 1 : 0;
		}
		if (op[0] == '<')
			return JsonataMakeBool(op[1] == '=' ? cmp <= 0 : cmp < 0);
		return JsonataMakeBool(op[1] == '=' ? cmp >= 0 : cmp > 0);
	}
}

/* The integers lhs..rhs of an array constructor. */
static JsonataValue *
eval_range(Eval *ev, const JNode *n, JsonataValue *input, Frame *env)
{
	JsonataValue *l = eval_node(ev, n->lhs, input, env);
	JsonataValue *r = eval_node(ev, n->rhs, input, env);
	JsonataValue *result;
	double		size;

	if (l != NULL && (l->type != JSONATA_NUMBER || l->u.number != floor(l->u.number)))
		eval_error(ev, n->pos, "T2003", "the left side of the range operator (..) must evaluate to an integer");
	if (r != NULL && (r->type != JSONATA_NUMBER || r->u.number != floor(r->u.number)))
		eval_error(ev, n->pos, "T2004", "the right side of the range operator (..) must evaluate to an integer");
	if (l == NULL || r == NULL || l->u.number > r->u.number)
		return NULL;
	size = r->u.number - l->u.number + 1;
	if (size > JSONATA_MAX_RANGE)
		eval_error(ev, n->pos, "D2014",
				   "the size of the sequence allocated by the range operator (..) must not exceed 1e7; attempted to allocate %.0f",
				   size);
	result = JsonataMakeArray((int) size);
	for (int i = 0; i < (int) size; i++)
	{
		if ((i & 0xFFFF) == 0xFFFF)
			check_time(ev, n->pos);
		JsonataArrayPush(result, JsonataMakeNumber(l->u.number + i));
	}
	return result;
}

/* A call: evaluate the procedure and the arguments, then apply. */
static JsonataValue *
eval_call(Eval *ev, const JNode *n, JsonataValue *input, Frame *env, JsonataValue *first, bool has_first)
{
	JsonataValue *proc = eval_node(ev, n->lhs, input, env);
	JsonataValue **args;
	int			nargs = 0;

	if (proc == NULL || proc->type != JSONATA_FUNCTION)
	{
		if (proc == NULL && n->lhs->type == N_PATH && n->lhs->nitems == 1 &&
			n->lhs->items[0]->type == N_NAME && builtin_value(ev, n->lhs->items[0]->str) != NULL)
			eval_error(ev, n->pos, "T1005",
					   "attempted to invoke a non-function; did you mean $%s?", n->lhs->items[0]->str);
		eval_error(ev, n->pos, "T1006", "attempted to invoke a non-function");
	}
	args = palloc(sizeof(JsonataValue *) * (n->nitems + 1));
	if (has_first)
		args[nargs++] = first;
	for (int i = 0; i < n->nitems; i++)
		args[nargs++] = eval_node(ev, n->items[i], input, env);
	return apply_function(ev, proc, args, nargs, input, n->pos);
}

/* Evaluate node n with context input in environment env. */
static JsonataValue *
eval_node(Eval *ev, const JNode *n, JsonataValue *input, Frame *env)
{
	JsonataValue *result = NULL;

	if (++ev->depth > ev->max_depth)
		eval_error(ev, n->pos, "U1001",
				   "stack overflow: evaluation nested deeper than %d levels; check for non-terminating recursion",
				   ev->max_depth);
	if (stack_is_too_deep())
		eval_error(ev, 0, "U1001", "stack overflow; check for non-terminating recursion");
	count_step(ev, n->pos);

	switch (n->type)
	{
		case N_PATH:
			result = eval_path(ev, n, input, env);
			break;
		case N_NAME:
			result = lookup_field(input, n->str, n->len);
			break;
		case N_STRING:
		case N_NUMBER:
		case N_VALUE:
			result = n->literal;
			break;
		case N_VARIABLE:
			if (n->len == 0)
				result = (is_array(input) && (input->flags & JSONATA_OUTER) && input->n > 0)
					? input->u.items[0] : input;
			else
			{
				bool		found;

				result = frame_lookup(env, n->str, &found);
				if (!found)
					result = builtin_value(ev, n->str);
			}
			break;
		case N_WILDCARD:
			{
				JsonataValue *obj = input;
				JsonataValue **vals = NULL;
				int			nvals = 0;

				result = seq_new(4);
				if (is_array(obj) && (obj->flags & JSONATA_OUTER) && obj->n > 0)
					obj = obj->u.items[0];
				if (obj != NULL && obj->type == JSONATA_OBJECT)
				{
					vals = obj->u.obj.vals;
					nvals = obj->n;
				}
				else if (is_array(obj))
				{
					vals = obj->u.items;
					nvals = obj->n;
				}
				for (int i = 0; i < nvals; i++)
				{
					JsonataValue *v = vals[i];

					if (is_array(v))
					{
						/* flattened deeply; the result is then an array */
						JsonataValue *stack = JsonataMakeArray(4);

						JsonataArrayPush(stack, v);
						result->flags &= ~JSONATA_SEQUENCE;
						while (stack->n > 0)
						{
							JsonataValue *top = stack->u.items[--stack->n];

							if (is_array(top))
								for (int j = top->n - 1; j >= 0; j--)
									JsonataArrayPush(stack, top->u.items[j]);
							else
								JsonataArrayPush(result, top);
						}
					}
					else
						JsonataArrayPush(result, v);
				}
			}
			break;
		case N_DESCENDANT:
			if (input != NULL)
			{
				JsonataValue *stack = JsonataMakeArray(8);

				result = seq_new(8);
				JsonataArrayPush(stack, input);
				while (stack->n > 0)
				{
					JsonataValue *top = stack->u.items[--stack->n];

					if (!is_array(top))
						JsonataArrayPush(result, top);
					if (is_array(top))
						for (int j = top->n - 1; j >= 0; j--)
							JsonataArrayPush(stack, top->u.items[j]);
					else if (top->type == JSONATA_OBJECT)
						for (int j = top->n - 1; j >= 0; j--)
							JsonataArrayPush(stack, top->u.obj.vals[j]);
				}
				if (result->n == 1)
					result = result->u.items[0];
			}
			break;
		case N_BINARY:
			result = eval_binary(ev, n, input, env);
			break;
		case N_AND:
		case N_OR:
			{
				bool		l = to_boolean(eval_node(ev, n->lhs, input, env)) == 1;

				if (n->type == N_AND)
					result = JsonataMakeBool(l && to_boolean(eval_node(ev, n->rhs, input, env)) == 1);
				else
					result = JsonataMakeBool(l || to_boolean(eval_node(ev, n->rhs, input, env)) == 1);
			}
			break;
		case N_NEGATE:
			result = eval_node(ev, n->lhs, input, env);
			if (result != NULL)
			{
				if (result->type != JSONATA_NUMBER)
					eval_error(ev, n->pos, "D1002", "cannot negate a non-numeric value: %s", describe(ev, result));
				result = make_number(ev, -result->u.number, n->pos);
			}
			break;
		case N_ARRAY:
			result = JsonataMakeArray(n->nitems);
			for (int i = 0; i < n->nitems; i++)
			{
				JsonataValue *v = eval_node(ev, n->items[i], input, env);

				if (v == NULL)
					continue;
				if (n->items[i]->type == N_ARRAY || !is_array(v))
					JsonataArrayPush(result, v);
				else
					for (int j = 0; j < v->n; j++)
						JsonataArrayPush(result, v->u.items[j]);
			}
			if (n->consarray)
				result->flags |= JSONATA_CONS;
			break;
		case N_OBJECT:
			result = eval_group(ev, n, input, env);
			break;
		case N_RANGE:
			result = eval_range(ev, n, input, env);
			break;
		case N_CONDITION:
			if (to_boolean(eval_node(ev, n->lhs, input, env)) == 1)
				result = eval_node(ev, n->rhs, input, env);
			else if (n->els != NULL)
				result = eval_node(ev, n->els, input, env);
			break;
		case N_BLOCK:
			{
				Frame	   *frame = frame_new(env);

				for (int i = 0; i < n->nitems; i++)
					result = eval_node(ev, n->items[i], input, frame);
			}
			break;
		case N_BIND:
			result = eval_node(ev, n->rhs, input, env);
			frame_bind(env, n->lhs->str, result);
			break;
		case N_CALL:
			result = eval_call(ev, n, input, env, NULL, false);
			break;
		case N_LAMBDA:
			{
				JsonataFunction *fn = palloc0(sizeof(JsonataFunction));

				fn->builtin = -1;
				fn->lambda = n;
				fn->env = env;
				fn->input = input;
				result = palloc0(sizeof(JsonataValue));
				result->type = JSONATA_FUNCTION;
				result->u.fn = fn;
			}
			break;
		case N_APPLY:
			{
				JsonataValue *l = eval_node(ev, n->lhs, input, env);

				if (n->rhs->type == N_CALL)
					result = eval_call(ev, n->rhs, input, env, l, true);
				else
				{
					JsonataValue *fn = eval_node(ev, n->rhs, input, env);

					if (fn == NULL || fn->type != JSONATA_FUNCTION)
						eval_error(ev, n->pos, "T2006",
								   "the right side of the function application operator ~> must be a function");
					if (l != NULL && l->type == JSONATA_FUNCTION)
						eval_error(ev, n->pos, "T2006",
								   "function composition with ~> is not supported");
					result = apply_function(ev, fn, &l, 1, NULL, n->pos);
				}
			}
			break;
	}

	for (int i = 0; i < n->npreds; i++)
		result = eval_filter(ev, n->preds[i], result, env);
	if (n->type != N_PATH && n->group != NULL)
		result = eval_group(ev, n->group, result, env);

	if (is_sequence(result))
	{
		if (n->keep_array)
			result->flags |= JSONATA_KEEP;
		if (result->n == 0)
			result = NULL;
		else if (result->n == 1 && !(result->flags & JSONATA_KEEP))
			result = result->u.items[0];
	}
	ev->depth--;
	return result;
}

/* ---------------------------------------------------------------------
 * Built-in functions
 *
 * Each has a signature in the reference implementation's notation: types
 * s n b l(null) a o f j(any JSON) x(anything), (..) a choice, a<T> an
 * array of T; "-" takes the context when the argument is missing, "?"
 * makes it optional.  Arguments are validated before the call and padded
 * with undefined up to the number of parameters.
 * --------------------------------------------------------------------- */
typedef JsonataValue *(*BuiltinFn) (Eval *ev, JsonataValue **args, int pos);

typedef struct Builtin
{
	const char *name;
	const char *sig;
	BuiltinFn	fn;
} Builtin;

#define T_S		0x01
#define T_N		0x02
#define T_B		0x04
#define T_L		0x08
#define T_A		0x10
#define T_O		0x20
#define T_F		0x40
#define T_J		(T_S | T_N | T_B | T_L | T_A | T_O)
#define T_X		(T_J | T_F)

#define MAX_PARAMS 4

typedef struct Param
{
	int			types;
	int			itemtypes;		/* a<T>: T; 0 for any */
	bool		context;
	bool		optional;
} Param;

static int
type_bits(char c)
{
	switch (c)
	{
		case 's':
			return T_S;
		case 'n':
			return T_N;
		case 'b':
			return T_B;
		case 'l':
			return T_L;
		case 'a':
			return T_A;
		case 'o':
			return T_O;
		case 'f':
			return T_F;
		case 'j':
			return T_J;
		case 'x':
			return T_X;
	}
	return 0;
}

static int
value_bits(const JsonataValue *v)
{
	if (v == NULL)
		return T_X;
	switch (v->type)
	{
		case JSONATA_NULL:
			return T_L;
		case JSONATA_BOOL:
			return T_B;
		case JSONATA_NUMBER:
			return T_N;
		case JSONATA_STRING:
			return T_S;
		case JSONATA_ARRAY:
			return T_A;
		case JSONATA_OBJECT:
			return T_O;
		case JSONATA_FUNCTION:
			return T_F;
	}
	return 0;
}

/* Parse a signature into params; returns how many. */
static int
parse_signature(const char *sig, Param *params)
{
	int			n = 0;

	while (*sig && n < MAX_PARAMS)
	{
		Param	   *p = &params[n++];

		memset(p, 0, sizeof(Param));
		if (*sig == '(')
		{
			for (sig++; *sig && *sig != ')'; sig++)
				p->types |= type_bits(*sig);
			sig++;
		}
		else
		{
			p->types = type_bits(*sig);
			if (*sig == 'a' && sig[1] == '<')
			{
				for (sig += 2; *sig && *sig != '>'; sig++)
					p->itemtypes |= type_bits(*sig);
			}
			sig++;
		}
		while (*sig == '-' || *sig == '?')
		{
			if (*sig == '-')
				p->context = true;
			else
				p->optional = true;
			sig++;
		}
	}
	return n;
}

static const char *
array_type_name(int bits)
{
	switch (bits)
	{
		case T_S:
			return "strings";
		case T_N:
			return "numbers";
		case T_O:
			return "objects";
		case T_B:
			return "booleans";
	}
	return "values";
}

/* Validate and adapt arguments to a signature; returns the padded list. */
static JsonataValue **
validate_args(Eval *ev, const Builtin *b, JsonataValue **args, int nargs,
			  JsonataValue *context, int pos)
{
	Param		params[MAX_PARAMS];
	int			np = parse_signature(b->sig, params);
	int			required = 0;
	JsonataValue **out;

	if (is_array(context) && (context->flags & JSONATA_OUTER) && context->n > 0)
		context = context->u.items[0];
	for (int i = 0; i < np; i++)
		if (!params[i].optional)
			required++;
	if (np > 0 && params[0].context &&
		(nargs < required ||
		 (nargs < np && args[0] != NULL && !(value_bits(args[0]) & params[0].types))))
	{
		JsonataValue **with = palloc(sizeof(JsonataValue *) * (nargs + 1));

		if (context != NULL && !(value_bits(context) & params[0].types))
			eval_error(ev, pos, "T0411",
					   "context value is not a compatible type with argument 1 of function $%s", b->name);
		with[0] = context;
		memcpy(with + 1, args, sizeof(JsonataValue *) * nargs);
		args = with;
		nargs++;
	}
	if (nargs > np)
		eval_error(ev, pos, "T0410",
				   "argument %d of function $%s does not match function signature", np + 1, b->name);
	out = palloc0(sizeof(JsonataValue *) * (MAX_PARAMS + 1));
	for (int i = 0; i < np; i++)
	{
		JsonataValue *v = i < nargs ? args[i] : NULL;
		Param	   *p = &params[i];

		if (i >= nargs && !p->optional)
			eval_error(ev, pos, "T0410",
					   "argument %d of function $%s does not match function signature", i + 1, b->name);
		if (v != NULL && (p->types & T_A) && !is_array(v) && p->types == T_A)
		{
			/* a non-array where an array is expected becomes a singleton */
			JsonataValue *wrapped = JsonataMakeArray(1);

			JsonataArrayPush(wrapped, v);
			v = wrapped;
		}
		if (v != NULL && !(value_bits(v) & p->types))
			eval_error(ev, pos, "T0410",
					   "argument %d of function $%s does not match function signature", i + 1, b->name);
		if (v != NULL && is_array(v) && p->itemtypes != 0)
			for (int j = 0; j < v->n; j++)
				if (!(value_bits(v->u.items[j]) & p->itemtypes) || v->u.items[j] == NULL)
					eval_error(ev, pos, "T0412", "argument %d of function $%s must be an array of %s",
							   i + 1, b->name, array_type_name(p->itemtypes));
		out[i] = v;
	}
	return out;
}

/* Number of arguments a function takes when called by a higher-order one. */
static int
function_arity(const JsonataValue *fn);

/* Call fn as the reference's higher-order functions do (hofFuncArgs). */
static JsonataValue *
call_hof(Eval *ev, JsonataValue *fn, JsonataValue *a1, JsonataValue *a2, JsonataValue *a3, int pos)
{
	JsonataValue *args[3];
	int			arity;
	int			n = 1;

	if (fn == NULL || fn->type != JSONATA_FUNCTION)
		eval_error(ev, pos, "T0410", "the function argument is undefined or not a function");
	arity = function_arity(fn);

	args[0] = a1;
	args[1] = a2;
	args[2] = a3;
	if (arity >= 2)
		n = 2;
	if (arity >= 3)
		n = 3;
	return apply_function(ev, fn, args, n, NULL, pos);
}

static JsonataValue *
number_value(int i)
{
	return JsonataMakeNumber((double) i);
}

/* ---- strings ---- */

/* Number of code points in s. */
static int
cp_count(const char *s, int len)
{
	int			n = 0;

	for (int i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* Byte offset of code point idx (clamped to the end). */
static int
cp_offset(const char *s, int len, int idx)
{
	int			i = 0;

	while (i < len && idx > 0)
	{
		i++;
		while (i < len && ((unsigned char) s[i] & 0xC0) == 0x80)
			i++;
		idx--;
	}
	return i;
}

/* JavaScript slice() index normalisation over len items. */
static int
slice_index(double d, int len)
{
	if (isnan(d))
		return 0;
	d = trunc(d);
	if (d < 0)
		d = Max(d + len, 0);
	return (int) Min(d, (double) len);
}

static JsonataValue *
bi_string(Eval *ev, JsonataValue **a, int pos)
{
	if (a[1] != NULL && a[1]->type != JSONATA_BOOL)
		eval_error(ev, pos, "T0410", "argument 2 of function $string does not match function signature");
	return to_string_value(ev, a[0], a[1] != NULL && a[1]->u.boolean, pos);
}

static JsonataValue *
bi_length(Eval *ev, JsonataValue **a, int pos)
{
	if (a[0] == NULL)
		return NULL;
	return number_value(cp_count(a[0]->u.str, a[0]->n));
}

static JsonataValue *
bi_substring(Eval *ev, JsonataValue **a, int pos)
{
	const char *s;
	int			len;
	double		start;
	int			b,
				e;

	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL)
		eval_error(ev, pos, "T0410", "argument 2 of function $substring does not match function signature");
	s = a[0]->u.str;
	len = cp_count(s, a[0]->n);
	start = a[1]->u.number;
	if (len + start < 0)
		start = 0;
	b = slice_index(start, len);
	if (a[2] != NULL)
	{
		double		l = a[2]->u.number;
		double		end;

		if (l <= 0)
			return JsonataMakeString("", 0);
		end = start >= 0 ? start + l : len + start + l;
		e = slice_index(end, len);
	}
	else
		e = len;
	if (e <= b)
		return JsonataMakeString("", 0);
	b = cp_offset(s, a[0]->n, b);
	e = cp_offset(s, a[0]->n, e);
	return JsonataMakeString(s + b, e - b);
}

/* Byte index of needle in s, or -1. */
static int
find_bytes(const char *s, int slen, const char *needle, int nlen)
{
	if (nlen == 0)
		return 0;
	for (int i = 0; i + nlen <= slen; i++)
		if (memcmp(s + i, needle, nlen) == 0)
			return i;
	return -1;
}

static JsonataValue *
bi_substring_before(Eval *ev, JsonataValue **a, int pos)
{
	int			i;

	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL)
		return a[0];
	i = find_bytes(a[0]->u.str, a[0]->n, a[1]->u.str, a[1]->n);
	return i >= 0 ? JsonataMakeString(a[0]->u.str, i) : a[0];
}

static JsonataValue *
bi_substring_after(Eval *ev, JsonataValue **a, int pos)
{
	int			i;

	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL)
		return a[0];
	i = find_bytes(a[0]->u.str, a[0]->n, a[1]->u.str, a[1]->n);
	return i >= 0 ? JsonataMakeString(a[0]->u.str + i + a[1]->n, a[0]->n - i - a[1]->n) : a[0];
}

/* Decode one UTF-8 code point at s (len >= 1); sets *l to its length. */
static unsigned int
decode_utf8(const unsigned char *s, int len, int *l)
{
	int			n = utf8_len(s[0]);
	unsigned int cp;

	if (n > len || n == 1)
	{
		*l = 1;
		return s[0];
	}
	cp = s[0] & (0xFF >> (n + 1));
	for (int i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3F);
	*l = n;
	return cp;
}

/* Case mapping of ASCII, Latin-1, basic Greek and Cyrillic. */
static unsigned int
map_case(unsigned int c, bool upper)
{
	if (upper)
	{
		if ((c >= 'a' && c <= 'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7) ||
			(c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) || (c >= 0x430 && c <= 0x44F))
			return c - 0x20;
		if (c == 0x3C2)
			return 0x3A3;
		if (c == 0xFF)
			return 0x178;
		if (c >= 0x450 && c <= 0x45F)
			return c - 0x50;
	}
	else
	{
		if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) ||
			(c >= 0x391 && c <= 0x3A9 && c != 0x3A2) || (c >= 0x410 && c <= 0x42F))
			return c + 0x20;
		if (c == 0x178)
			return 0xFF;
		if (c >= 0x400 && c <= 0x40F)
			return c + 0x50;
	}
	return c;
}

static JsonataValue *
change_case(JsonataValue *v, bool upper)
{
	StringInfoData buf;
	const unsigned char *s;

	if (v == NULL)
		return NULL;
	s = (const unsigned char *) v->u.str;
	initStringInfo(&buf);
	for (int i = 0; i < v->n;)
	{
		int			l;
		unsigned int c = decode_utf8(s + i, v->n - i, &l);

		if (l == 1 && c >= 0x80)
			appendStringInfoChar(&buf, (char) c);	/* stray byte */
		else
			append_utf8(&buf, map_case(c, upper));
		i += l;
	}
	return make_string_buf(&buf);
}

static JsonataValue *
bi_uppercase(Eval *ev, JsonataValue **a, int pos)
{
	return change_case(a[0], true);
}

static JsonataValue *
bi_lowercase(Eval *ev, JsonataValue **a, int pos)
{
	return change_case(a[0], false);
}

static JsonataValue *
bi_trim(Eval *ev, JsonataValue **a, int pos)
{
	StringInfoData buf;
	bool		space = false;

	if (a[0] == NULL)
		return NULL;
	initStringInfo(&buf);
	for (int i = 0; i < a[0]->n; i++)
	{
		char		c = a[0]->u.str[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			space = true;
		else
		{
			if (space && buf.len > 0)
				appendStringInfoChar(&buf, ' ');
			space = false;
			appendStringInfoChar(&buf, c);
		}
	}
	return make_string_buf(&buf);
}

static JsonataValue *
bi_contains(Eval *ev, JsonataValue **a, int pos)
{
	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL || a[1]->type != JSONATA_STRING)
		eval_error(ev, pos, "T0410", "argument 2 of function $contains does not match function signature");
	return JsonataMakeBool(find_bytes(a[0]->u.str, a[0]->n, a[1]->u.str, a[1]->n) >= 0);
}

static JsonataValue *
bi_split(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;
	const char *s;
	int			len;
	int			limit = INT_MAX;

	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL || a[1]->type != JSONATA_STRING)
		eval_error(ev, pos, "T0410", "argument 2 of function $split does not match function signature");
	if (a[2] != NULL)
	{
		if (a[2]->u.number < 0)
			eval_error(ev, pos, "D3020", "third argument of split function must evaluate to a positive number");
		limit = (int) Min(floor(a[2]->u.number), (double) INT_MAX);
	}
	r = JsonataMakeArray(4);
	s = a[0]->u.str;
	len = a[0]->n;
	if (a[1]->n == 0)
	{
		for (int i = 0; i < len && r->n < limit;)
		{
			int			l = cp_offset(s + i, len - i, 1);

			JsonataArrayPush(r, JsonataMakeString(s + i, l));
			i += l;
		}
		return r;
	}
	for (int start = 0; r->n < limit;)
	{
		int			i = find_bytes(s + start, len - start, a[1]->u.str, a[1]->n);

		if (i < 0)
		{
			JsonataArrayPush(r, JsonataMakeString(s + start, len - start));
			break;
		}
		JsonataArrayPush(r, JsonataMakeString(s + start, i));
		start += i + a[1]->n;
	}
	return r;
}

static JsonataValue *
bi_join(Eval *ev, JsonataValue **a, int pos)
{
	StringInfoData buf;

	if (a[0] == NULL)
		return NULL;
	initStringInfo(&buf);
	for (int i = 0; i < a[0]->n; i++)
	{
		if (i > 0 && a[1] != NULL)
			appendBinaryStringInfo(&buf, a[1]->u.str, a[1]->n);
		appendBinaryStringInfo(&buf, a[0]->u.items[i]->u.str, a[0]->u.items[i]->n);
	}
	return make_string_buf(&buf);
}

/* ---- numbers ---- */

/* Parse a whole string as a JSON number (or 0x/0o/0b integer). */
static bool
parse_number_string(const char *s, int len, double *out)
{
	int			i = 0;
	char	   *copy;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X' || s[1] == 'o' ||
								   s[1] == 'O' || s[1] == 'b' || s[1] == 'B'))
	{
		int			base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
		double		v = 0;

		for (i = 2; i < len; i++)
		{
			int			d = hexval(s[i]);

			if (d < 0 || d >= base)
				return false;
			v = v * base + d;
		}
		*out = v;
		return true;
	}
	if (i < len && s[i] == '-')
		i++;
	if (i >= len || !(s[i] >= '0' && s[i] <= '9'))
		return false;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i < len && s[i] == '.')
	{
		i++;
		if (i >= len || !(s[i] >= '0' && s[i] <= '9'))
			return false;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !(s[i] >= '0' && s[i] <= '9'))
			return false;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i != len)
		return false;
	copy = pnstrdup(s, len);
	*out = strtod(copy, NULL);
	pfree(copy);
	return isfinite(*out);
}

static JsonataValue *
bi_number(Eval *ev, JsonataValue **a, int pos)
{
	double		d;

	if (a[0] == NULL)
		return NULL;
	switch (a[0]->type)
	{
		case JSONATA_NUMBER:
			return a[0];
		case JSONATA_BOOL:
			return number_value(a[0]->u.boolean ? 1 : 0);
		case JSONATA_STRING:
			if (parse_number_string(a[0]->u.str, a[0]->n, &d))
				return make_number(ev, d, pos);
			break;
		default:
			break;
	}
	eval_error(ev, pos, "D3030", "unable to cast value to a number: %s", describe(ev, a[0]));
}

static JsonataValue *
bi_abs(Eval *ev, JsonataValue **a, int pos)
{
	return a[0] ? make_number(ev, fabs(a[0]->u.number), pos) : NULL;
}

static JsonataValue *
bi_floor(Eval *ev, JsonataValue **a, int pos)
{
	return a[0] ? make_number(ev, floor(a[0]->u.number), pos) : NULL;
}

static JsonataValue *
bi_ceil(Eval *ev, JsonataValue **a, int pos)
{
	return a[0] ? make_number(ev, ceil(a[0]->u.number), pos) : NULL;
}

/* Scale d by 10^shift through its decimal text, as the reference does. */
static double
shift_decimal(double d, int shift)
{
	char		buf[64];
	char	   *e;
	int			exp10 = 0;

	JsonataFormatNumber(d, buf, sizeof(buf) - 16);
	e = strchr(buf, 'e');
	if (e != NULL)
	{
		exp10 = atoi(e + 1);
		*e = '\0';
	}
	snprintf(buf + strlen(buf), 16, "e%d", exp10 + shift);
	return strtod(buf, NULL);
}

static JsonataValue *
bi_round(Eval *ev, JsonataValue **a, int pos)
{
	double		d;
	double		r;
	int			precision = 0;

	if (a[0] == NULL)
		return NULL;
	d = a[0]->u.number;
	if (a[1] != NULL)
		precision = (int) Max(Min(a[1]->u.number, 400), -400);
	if (precision != 0)
		d = shift_decimal(d, precision);
	r = round(d);
	if (fabs(r - d) == 0.5 && fmod(fabs(r), 2) == 1)
		r = r - (r > d ? 1 : -1);
	/* JavaScript's Math.round rounds halves up; then halves go to even */
	if (precision != 0)
		r = shift_decimal(r, -precision);
	return make_number(ev, r, pos);
}

static JsonataValue *
bi_power(Eval *ev, JsonataValue **a, int pos)
{
	double		r;

	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL)
		eval_error(ev, pos, "T0410", "argument 2 of function $power does not match function signature");
	r = pow(a[0]->u.number, a[1]->u.number);
	if (!isfinite(r))
		eval_error(ev, pos, "D3061", "the power function has resulted in a value that cannot be represented as a JSON number");
	return make_number(ev, r, pos);
}

static JsonataValue *
bi_sqrt(Eval *ev, JsonataValue **a, int pos)
{
	if (a[0] == NULL)
		return NULL;
	if (a[0]->u.number < 0)
		eval_error(ev, pos, "D3060", "the sqrt function cannot be applied to a negative number: %s",
				   describe(ev, a[0]));
	return make_number(ev, sqrt(a[0]->u.number), pos);
}

static JsonataValue *
bi_sum(Eval *ev, JsonataValue **a, int pos)
{
	double		total = 0;

	if (a[0] == NULL)
		return NULL;
	for (int i = 0; i < a[0]->n; i++)
		total += a[0]->u.items[i]->u.number;
	return make_number(ev, total, pos);
}

static JsonataValue *
bi_max(Eval *ev, JsonataValue **a, int pos)
{
	double		m;

	if (a[0] == NULL || a[0]->n == 0)
		return NULL;
	m = a[0]->u.items[0]->u.number;
	for (int i = 1; i < a[0]->n; i++)
		m = Max(m, a[0]->u.items[i]->u.number);
	return make_number(ev, m, pos);
}

static JsonataValue *
bi_min(Eval *ev, JsonataValue **a, int pos)
{
	double		m;

	if (a[0] == NULL || a[0]->n == 0)
		return NULL;
	m = a[0]->u.items[0]->u.number;
	for (int i = 1; i < a[0]->n; i++)
		m = Min(m, a[0]->u.items[i]->u.number);
	return make_number(ev, m, pos);
}

static JsonataValue *
bi_average(Eval *ev, JsonataValue **a, int pos)
{
	double		total = 0;

	if (a[0] == NULL || a[0]->n == 0)
		return NULL;
	for (int i = 0; i < a[0]->n; i++)
		total += a[0]->u.items[i]->u.number;
	return make_number(ev, total / a[0]->n, pos);
}

static JsonataValue *
bi_count(Eval *ev, JsonataValue **a, int pos)
{
	return number_value(a[0] == NULL ? 0 : a[0]->n);
}

/* ---- booleans ---- */

static JsonataValue *
bi_boolean(Eval *ev, JsonataValue **a, int pos)
{
	int			b = to_boolean(a[0]);

	return b < 0 ? NULL : JsonataMakeBool(b == 1);
}

static JsonataValue *
bi_not(Eval *ev, JsonataValue **a, int pos)
{
	int			b = to_boolean(a[0]);

	return b < 0 ? NULL : JsonataMakeBool(b == 0);
}

static JsonataValue *
bi_exists(Eval *ev, JsonataValue **a, int pos)
{
	return JsonataMakeBool(a[0] != NULL);
}

/* ---- arrays ---- */

static JsonataValue *
bi_append(Eval *ev, JsonataValue **a, int pos)
{
	return append_values(a[0], a[1]);
}

static JsonataValue *
bi_reverse(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;

	if (a[0] == NULL || a[0]->n <= 1)
		return a[0];
	r = JsonataMakeArray(a[0]->n);
	for (int i = a[0]->n - 1; i >= 0; i--)
		JsonataArrayPush(r, a[0]->u.items[i]);
	return r;
}

static JsonataValue *
bi_distinct(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;

	if (a[0] == NULL || !is_array(a[0]) || a[0]->n <= 1)
		return a[0];
	r = JsonataMakeArray(a[0]->n);
	r->flags = a[0]->flags & JSONATA_SEQUENCE;
	for (int i = 0; i < a[0]->n; i++)
	{
		bool		seen = false;

		for (int j = 0; j < r->n && !seen; j++)
			seen = deep_equal(a[0]->u.items[i], r->u.items[j]);
		if (!seen)
			JsonataArrayPush(r, a[0]->u.items[i]);
	}
	return r;
}

static JsonataValue *
bi_map(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;

	if (a[0] == NULL)
		return NULL;
	r = seq_new(a[0]->n);
	for (int i = 0; i < a[0]->n; i++)
	{
		JsonataValue *v = call_hof(ev, a[1], a[0]->u.items[i], number_value(i), a[0], pos);

		if (v != NULL)
			JsonataArrayPush(r, v);
	}
	return r;
}

static JsonataValue *
bi_filter(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;

	if (a[0] == NULL)
		return NULL;
	r = seq_new(a[0]->n);
	for (int i = 0; i < a[0]->n; i++)
	{
		JsonataValue *v = call_hof(ev, a[1], a[0]->u.items[i], number_value(i), a[0], pos);

		if (to_boolean(v) == 1)
			JsonataArrayPush(r, a[0]->u.items[i]);
	}
	return r;
}

static JsonataValue *
bi_reduce(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *acc;
	int			i = 0;
	int			arity;

	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL)
		eval_error(ev, pos, "T0410", "argument 2 of function $reduce does not match function signature");
	arity = function_arity(a[1]);
	if (arity < 2)
		eval_error(ev, pos, "D3050",
				   "the second argument of reduce function must be a function with at least two arguments");
	if (a[2] == NULL && a[0]->n > 0)
	{
		acc = a[0]->u.items[0];
		i = 1;
	}
	else
		acc = a[2];
	for (; i < a[0]->n; i++)
	{
		JsonataValue *args[4];

		args[0] = acc;
		args[1] = a[0]->u.items[i];
		args[2] = number_value(i);
		args[3] = a[0];
		acc = apply_function(ev, a[1], args, Min(arity, 4), NULL, pos);
	}
	return acc;
}

/* Stable merge sort; swap(a, b) says whether a must come after b. */
static void
merge_sort(Eval *ev, JsonataValue **items, JsonataValue **tmp, int n, JsonataValue *cmp, int pos)
{
	int			mid = n / 2;
	int			i = 0,
				j = mid,
				k = 0;

	if (n <= 1)
		return;
	merge_sort(ev, items, tmp, mid, cmp, pos);
	merge_sort(ev, items + mid, tmp, n - mid, cmp, pos);
	while (i < mid && j < n)
	{
		bool		swap;

		count_step(ev, pos);
		if (cmp != NULL)
		{
			JsonataValue *args[2];

			args[0] = items[i];
			args[1] = items[j];
			swap = to_boolean(apply_function(ev, cmp, args, 2, NULL, pos)) == 1;
		}
		else if (items[i]->type == JSONATA_NUMBER)
			swap = items[i]->u.number > items[j]->u.number;
		else
		{
			int			c = memcmp(items[i]->u.str, items[j]->u.str, Min(items[i]->n, items[j]->n));

			swap = c > 0 || (c == 0 && items[i]->n > items[j]->n);
		}
		tmp[k++] = swap ? items[j++] : items[i++];
	}
	while (i < mid)
		tmp[k++] = items[i++];
	while (j < n)
		tmp[k++] = items[j++];
	memcpy(items, tmp, sizeof(JsonataValue *) * n);
}

static JsonataValue *
bi_sort(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;

	if (a[0] == NULL || a[0]->n <= 1)
		return a[0];
	if (a[1] == NULL)
	{
		bool		nums = true,
					strs = true;

		for (int i = 0; i < a[0]->n; i++)
		{
			nums = nums && a[0]->u.items[i]->type == JSONATA_NUMBER;
			strs = strs && a[0]->u.items[i]->type == JSONATA_STRING;
		}
		if (!nums && !strs)
			eval_error(ev, pos, "D3070",
					   "the single argument form of the sort function can only be applied to an array of strings or an array of numbers; use the second argument to specify a comparison function");
	}
	r = JsonataMakeArray(a[0]->n);
	memcpy(r->u.items, a[0]->u.items, sizeof(JsonataValue *) * a[0]->n);
	r->n = a[0]->n;
	merge_sort(ev, r->u.items, palloc(sizeof(JsonataValue *) * r->n), r->n, a[1], pos);
	return r;
}

/* ---- objects ---- */

static void
collect_keys(JsonataValue *v, JsonataValue *keys)
{
	if (v == NULL)
		return;
	if (is_array(v))
	{
		for (int i = 0; i < v->n; i++)
			collect_keys(v->u.items[i], keys);
	}
	else if (v->type == JSONATA_OBJECT)
	{
		for (int i = 0; i < v->n; i++)
		{
			bool		seen = false;

			for (int j = 0; j < keys->n && !seen; j++)
				seen = keys->u.items[j]->n == v->u.obj.klens[i] &&
					memcmp(keys->u.items[j]->u.str, v->u.obj.keys[i], v->u.obj.klens[i]) == 0;
			if (!seen)
				JsonataArrayPush(keys, JsonataMakeString(v->u.obj.keys[i], v->u.obj.klens[i]));
		}
	}
}

static JsonataValue *
bi_keys(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r = seq_new(4);

	if (is_array(a[0]))
	{
		/* only the keys of the objects directly in the array */
		for (int i = 0; i < a[0]->n; i++)
			if (a[0]->u.items[i]->type == JSONATA_OBJECT)
				collect_keys(a[0]->u.items[i], r);
	}
	else
		collect_keys(a[0], r);
	return r;
}

static JsonataValue *
bi_lookup(Eval *ev, JsonataValue **a, int pos)
{
	if (a[1] == NULL)
		return NULL;
	return lookup_field(a[0], a[1]->u.str, a[1]->n);
}

static JsonataValue *
bi_merge(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;

	if (a[0] == NULL)
		return NULL;
	r = JsonataMakeObject(8);
	for (int i = 0; i < a[0]->n; i++)
	{
		JsonataValue *o = a[0]->u.items[i];

		for (int j = 0; j < o->n; j++)
			JsonataObjectSet(r, o->u.obj.keys[j], o->u.obj.klens[j], o->u.obj.vals[j]);
	}
	return r;
}

static JsonataValue *
bi_sift(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;

	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL)
		eval_error(ev, pos, "T0410", "argument 2 of function $sift does not match function signature");
	r = JsonataMakeObject(a[0]->n);
	for (int i = 0; i < a[0]->n; i++)
	{
		JsonataValue *k = JsonataMakeString(a[0]->u.obj.keys[i], a[0]->u.obj.klens[i]);

		if (to_boolean(call_hof(ev, a[1], a[0]->u.obj.vals[i], k, a[0], pos)) == 1)
			JsonataObjectSet(r, k->u.str, k->n, a[0]->u.obj.vals[i]);
	}
	return r->n > 0 ? r : NULL;
}

static JsonataValue *
bi_each(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;

	if (a[0] == NULL)
		return NULL;
	if (a[1] == NULL)
		eval_error(ev, pos, "T0410", "argument 2 of function $each does not match function signature");
	r = seq_new(a[0]->n);
	for (int i = 0; i < a[0]->n; i++)
	{
		JsonataValue *k = JsonataMakeString(a[0]->u.obj.keys[i], a[0]->u.obj.klens[i]);
		JsonataValue *v = call_hof(ev, a[1], a[0]->u.obj.vals[i], k, a[0], pos);

		if (v != NULL)
			JsonataArrayPush(r, v);
	}
	return r;
}

static JsonataValue *
bi_spread(Eval *ev, JsonataValue **a, int pos)
{
	JsonataValue *r;
	JsonataValue *v = a[0];

	if (v == NULL || (!is_array(v) && v->type != JSONATA_OBJECT))
		return v;
	r = seq_new(4);
	if (is_array(v))
	{
		for (int i = 0; i < v->n; i++)
		{
			JsonataValue *item = v->u.items[i];
			JsonataValue *sub[1];
			JsonataValue *s;

			sub[0] = item;
			s = bi_spread(ev, sub, pos);
			r = append_values(r, s);
		}
		return r;
	}
	for (int i = 0; i < v->n; i++)
	{
		JsonataValue *o = JsonataMakeObject(1);

		JsonataObjectSet(o, v->u.obj.keys[i], v->u.obj.klens[i], v->u.obj.vals[i]);
		JsonataArrayPush(r, o);
	}
	return r;
}

static JsonataValue *
bi_type(Eval *ev, JsonataValue **a, int pos)
{
	static const char *const names[] = {
		"null", "boolean", "number", "string", "array", "object", "function"
	};

	if (a[0] == NULL)
		return NULL;
	return JsonataMakeString(names[a[0]->type], strlen(names[a[0]->type]));
}

/* ---- errors ---- */

static JsonataValue *
bi_error(Eval *ev, JsonataValue **a, int pos)
{
	if (a[0] != NULL)
		eval_error(ev, pos, "D3137", "%s", a[0]->u.str);
	eval_error(ev, pos, "D3137", "$error() function evaluated");
}

static JsonataValue *
bi_assert(Eval *ev, JsonataValue **a, int pos)
{
	if (a[0] == NULL || a[0]->type != JSONATA_BOOL)
		eval_error(ev, pos, "T0410", "argument 1 of function $assert does not match function signature");
	if (!a[0]->u.boolean)
	{
		if (a[1] != NULL)
			eval_error(ev, pos, "D3141", "%s", a[1]->u.str);
		eval_error(ev, pos, "D3141", "$assert() statement failed");
	}
	return NULL;
}

static const Builtin builtins[] = {
	{"abs", "n-", bi_abs},
	{"append", "xx", bi_append},
	{"assert", "bs?", bi_assert},
	{"average", "a<n>", bi_average},
	{"boolean", "x-", bi_boolean},
	{"ceil", "n-", bi_ceil},
	{"contains", "s-(sf)", bi_contains},
	{"count", "a", bi_count},
	{"distinct", "x", bi_distinct},
	{"each", "o-f", bi_each},
	{"error", "s?", bi_error},
	{"exists", "x", bi_exists},
	{"filter", "af", bi_filter},
	{"floor", "n-", bi_floor},
	{"join", "a<s>s?", bi_join},
	{"keys", "x-", bi_keys},
	{"length", "s-", bi_length},
	{"lookup", "x-s", bi_lookup},
	{"lowercase", "s-", bi_lowercase},
	{"map", "af", bi_map},
	{"max", "a<n>", bi_max},
	{"merge", "a<o>", bi_merge},
	{"min", "a<n>", bi_min},
	{"not", "x-", bi_not},
	{"number", "(nsb)-", bi_number},
	{"power", "n-n", bi_power},
	{"reduce", "afj?", bi_reduce},
	{"reverse", "a", bi_reverse},
	{"round", "n-n?", bi_round},
	{"sift", "o-f?", bi_sift},
	{"sort", "af?", bi_sort},
	{"split", "s-(sf)n?", bi_split},
	{"spread", "x-", bi_spread},
	{"sqrt", "n-", bi_sqrt},
	{"string", "x-b?", bi_string},
	{"substring", "s-nn?", bi_substring},
	{"substringAfter", "s-s", bi_substring_after},
	{"substringBefore", "s-s", bi_substring_before},
	{"sum", "a<n>", bi_sum},
	{"trim", "s-", bi_trim},
	{"type", "x", bi_type},
	{"uppercase", "s-", bi_uppercase},
	{NULL, NULL, NULL}
};

/* The function value of a built-in, or NULL when there is none. */
static JsonataValue *
builtin_value(Eval *ev, const char *name)
{
	for (int i = 0; builtins[i].name != NULL; i++)
		if (strcmp(builtins[i].name, name) == 0)
		{
			if (ev->builtin_vals[i] == NULL)
			{
				JsonataValue *v = palloc0(sizeof(JsonataValue));
				JsonataFunction *fn = palloc0(sizeof(JsonataFunction));

				fn->builtin = i;
				v->type = JSONATA_FUNCTION;
				v->u.fn = fn;
				ev->builtin_vals[i] = v;
			}
			return ev->builtin_vals[i];
		}
	return NULL;
}

static int
function_arity(const JsonataValue *fn)
{
	Param		params[MAX_PARAMS];
	int			np;
	int			arity = 0;

	if (fn->u.fn->builtin < 0)
		return fn->u.fn->lambda->nitems;
	np = parse_signature(builtins[fn->u.fn->builtin].sig, params);
	while (arity < np && !params[arity].optional)
		arity++;
	return arity;
}

/* Apply a lambda or a built-in to evaluated arguments. */
static JsonataValue *
apply_function(Eval *ev, JsonataValue *fn, JsonataValue **args, int nargs,
			   JsonataValue *context, int pos)
{
	JsonataFunction *f = fn->u.fn;
	JsonataValue *result;

	if (f->builtin >= 0)
	{
		const Builtin *b = &builtins[f->builtin];

		return b->fn(ev, validate_args(ev, b, args, nargs, context, pos), pos);
	}
	else
	{
		const JNode *lambda = f->lambda;
		Frame	   *frame = frame_new(f->env);

		for (int i = 0; i < lambda->nitems; i++)
			frame_bind(frame, lambda->items[i]->str, i < nargs ? args[i] : NULL);
		result = eval_node(ev, lambda->rhs, f->input, frame);
	}
	return result;
}

/* Evaluate a program on a value; see rules_jsonata.h. */
bool
JsonataEvaluateValue(const JsonataProgram *prog, JsonataValue *input, int timeout_ms,
					 int max_depth, JsonataValue **result, char **errmsg)
{
	Eval	   *ev = palloc0(sizeof(Eval));
	Frame	   *global;
	JsonataValue *in = input;

	ev->max_depth = max_depth > 0 ? max_depth : INT_MAX;
	ev->timeout_ms = timeout_ms;
	if (timeout_ms > 0)
		ev->deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	ev->builtin_vals = palloc0(sizeof(JsonataValue *) * lengthof(builtins));
	global = frame_new(NULL);
	frame_bind(global, "$", input);
	if (is_array(input) && !is_sequence(input))
	{
		in = seq_new(1);
		JsonataArrayPush(in, input);
		in->flags |= JSONATA_OUTER;
	}
	if (sigsetjmp(ev->jmp, 0) != 0)
	{
		*errmsg = ev->errmsg;
		*result = NULL;
		return false;
	}
	*result = eval_node(ev, prog->root, in, global);
	return true;
}
