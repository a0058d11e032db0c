// SPDX-License-Identifier: MIT
//! The SQL subset the stand-in understands, as a tokenizer and a recursive
//! descent parser into an untyped AST (names are resolved by `lib.rs`):
//!
//!   SELECT (* | col, ...) FROM t [WHERE pred AND ...] [LIMIT n]
//!   INSERT INTO t [(col, ...)] VALUES (lit, ...), ...
//!   DELETE FROM t [WHERE pred AND ...]
//!   UPDATE t SET col = lit, ... [WHERE pred AND ...]
//!
//! pred is `col op lit` with op one of = != <> < <= > >=; a literal is an
//! integer, a 'string' ('' inside is a quote), true or false. Keywords and
//! identifiers are ASCII case-insensitive; one trailing `;` is allowed.

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Int(i128),
    Str(String),
    Bool(bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SqlPredicate {
    pub column: String,
    pub op: CmpOp,
    pub value: Literal,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SqlAst {
    Select { table: String, columns: Option<Vec<String>>, filter: Vec<SqlPredicate>, limit: Option<u64> },
    Insert { table: String, columns: Option<Vec<String>>, rows: Vec<Vec<Literal>> },
    Delete { table: String, filter: Vec<SqlPredicate> },
    Update { table: String, assignments: Vec<(String, Literal)>, filter: Vec<SqlPredicate> },
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Int(i128),
    Str(String),
    Sym(&'static str),
}

fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let s = sql.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(sql[start..i].to_string()));
        } else if c.is_ascii_digit() || (c == b'-' && i + 1 < s.len() && s[i + 1].is_ascii_digit()) {
            let start = i;
            i += 1;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            let n = sql[start..i].parse::<i128>().map_err(|_| format!("integer literal {} is too large", &sql[start..i]))?;
            out.push(Token::Int(n));
        } else if c == b'\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match s.get(i) {
                    None => return Err("unterminated string literal".to_string()),
                    Some(b'\'') if s.get(i + 1) == Some(&b'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => {
                        // Copy one UTF-8 character (the input is a &str).
                        let ch = sql[i..].chars().next().unwrap_or('\u{fffd}');
                        text.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            out.push(Token::Str(text));
        } else {
            let two = if i + 1 < s.len() { &sql[i..i + 2] } else { "" };
            let sym = match two {
                "<=" => Some("<="),
                ">=" => Some(">="),
                "!=" => Some("!="),
                "<>" => Some("!="),
                _ => None,
            };
            if let Some(sym) = sym {
                out.push(Token::Sym(sym));
                i += 2;
                continue;
            }
            let sym = match c {
                b'*' => "*",
                b',' => ",",
                b'(' => "(",
                b')' => ")",
                b'=' => "=",
                b'<' => "<",
                b'>' => ">",
                b';' => ";",
                _ => return Err(format!("unexpected character {:?} at byte {i}", sql[i..].chars().next().unwrap_or('?'))),
            };
            out.push(Token::Sym(sym));
            i += 1;
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.is_keyword(kw) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<(), String> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(format!("expected {kw}, found {}", self.describe()))
        }
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Token::Sym(s)) if *s == sym) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, sym: &str) -> Result<(), String> {
        if self.eat_sym(sym) {
            Ok(())
        } else {
            Err(format!("expected `{sym}`, found {}", self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "the end of the statement".to_string(),
            Some(Token::Ident(w)) => format!("`{w}`"),
            Some(Token::Int(n)) => format!("`{n}`"),
            Some(Token::Str(s)) => format!("'{s}'"),
            Some(Token::Sym(s)) => format!("`{s}`"),
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(Token::Ident(w)) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(format!("expected a name, found {}", self.describe())),
        }
    }

    fn literal(&mut self) -> Result<Literal, String> {
        let lit = match self.peek() {
            Some(Token::Int(n)) => Literal::Int(*n),
            Some(Token::Str(s)) => Literal::Str(s.clone()),
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Ident(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            _ => return Err(format!("expected a literal, found {}", self.describe())),
        };
        self.at += 1;
        Ok(lit)
    }

    fn name_list(&mut self) -> Result<Vec<String>, String> {
        let mut names = vec![self.ident()?];
        while self.eat_sym(",") {
            names.push(self.ident()?);
        }
        Ok(names)
    }

    fn filter(&mut self) -> Result<Vec<SqlPredicate>, String> {
        let mut preds = Vec::new();
        if !self.eat_keyword("where") {
            return Ok(preds);
        }
        loop {
            let column = self.ident()?;
            let op = match self.peek() {
                Some(Token::Sym("=")) => CmpOp::Eq,
                Some(Token::Sym("!=")) => CmpOp::Ne,
                Some(Token::Sym("<")) => CmpOp::Lt,
                Some(Token::Sym("<=")) => CmpOp::Le,
                Some(Token::Sym(">")) => CmpOp::Gt,
                Some(Token::Sym(">=")) => CmpOp::Ge,
                _ => return Err(format!("expected a comparison, found {}", self.describe())),
            };
            self.at += 1;
            let value = self.literal()?;
            preds.push(SqlPredicate { column, op, value });
            if !self.eat_keyword("and") {
                return Ok(preds);
            }
        }
    }

    fn statement(&mut self) -> Result<SqlAst, String> {
        if self.eat_keyword("select") {
            let columns = if self.eat_sym("*") { None } else { Some(self.name_list()?) };
            self.expect_keyword("from")?;
            let table = self.ident()?;
            let filter = self.filter()?;
            let limit = if self.eat_keyword("limit") {
                match self.literal()? {
                    Literal::Int(n) if n >= 0 && n <= u64::MAX as i128 => Some(n as u64),
                    _ => return Err("LIMIT takes a non-negative integer".to_string()),
                }
            } else {
                None
            };
            Ok(SqlAst::Select { table, columns, filter, limit })
        } else if self.eat_keyword("insert") {
            self.expect_keyword("into")?;
            let table = self.ident()?;
            let columns = if self.eat_sym("(") {
                let names = self.name_list()?;
                self.expect_sym(")")?;
                Some(names)
            } else {
                None
            };
            self.expect_keyword("values")?;
            let mut rows = Vec::new();
            loop {
                self.expect_sym("(")?;
                let mut row = vec![self.literal()?];
                while self.eat_sym(",") {
                    row.push(self.literal()?);
                }
                self.expect_sym(")")?;
                rows.push(row);
                if !self.eat_sym(",") {
                    break;
                }
            }
            Ok(SqlAst::Insert { table, columns, rows })
        } else if self.eat_keyword("delete") {
            self.expect_keyword("from")?;
            let table = self.ident()?;
            let filter = self.filter()?;
            Ok(SqlAst::Delete { table, filter })
        } else if self.eat_keyword("update") {
            let table = self.ident()?;
            self.expect_keyword("set")?;
            let mut assignments = Vec::new();
            loop {
                let col = self.ident()?;
                self.expect_sym("=")?;
                assignments.push((col, self.literal()?));
                if !self.eat_sym(",") {
                    break;
                }
            }
            let filter = self.filter()?;
            Ok(SqlAst::Update { table, assignments, filter })
        } else {
            Err(format!("expected SELECT, INSERT, DELETE or UPDATE, found {}", self.describe()))
        }
    }
}

/// Parses one statement.
pub fn parse_sql(sql: &str) -> Result<SqlAst, String> {
    let mut p = Parser { tokens: tokenize(sql)?, at: 0 };
    let ast = p.statement()?;
    p.eat_sym(";");
    if p.at != p.tokens.len() {
        return Err(format!("unexpected {} after the statement", p.describe()));
    }
    Ok(ast)
}
