//! nginx's configuration tokenizer, ported from `ngx_conf_read_token` (nginx 1.22).
//!
//! Rule lines must mean here what they mean to nginx, and most of the surprises live in the
//! tokenizer: `#` starts a comment only where a word could start; `\` shields the next byte
//! (so `\$1` stays `\$1`, while `\"`, `\'` and `\\` lose their backslash and `\t`, `\r`, `\n`
//! become control characters); a quoted word must be followed by a space, `;`, `{` or `)`;
//! and an unquoted `{` ends the directive as the start of a block, unless it follows `$`. That
//! last rule is why nginx refuses `rewrite ^/([0-9]{12})$ …;` unquoted, and so does this port.

/// One step of the token stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A directive's words, ended by `;` (`block == false`) or `{` (`block == true`).
    Directive {
        words: Vec<String>,
        line: usize,
        block: bool,
    },
    /// A `}`.
    BlockEnd { line: usize },
    /// The end of the text.
    Eof { line: usize },
}

/// A tokenizer error: the line it was found on and nginx's reason.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TokenError {
    pub line: usize,
    pub reason: String,
}

pub(crate) struct Tokenizer<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_space(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Tokenizer<'a> {
    pub fn new(text: &'a str) -> Tokenizer<'a> {
        Tokenizer {
            src: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    fn error(&self, reason: impl Into<String>) -> TokenError {
        TokenError {
            line: self.line,
            reason: reason.into(),
        }
    }

    /// The next directive, block end or end of text.
    pub fn next_token(&mut self) -> Result<Token, TokenError> {
        let mut words: Vec<String> = Vec::new();
        let mut first_line = None;
        let (mut need_space, mut last_space, mut sharp_comment, mut variable) =
            (false, true, false, false);
        let (mut quoted, mut s_quoted, mut d_quoted) = (false, false, false);
        let mut start = self.pos;
        loop {
            let Some(&ch) = self.src.get(self.pos) else {
                if !words.is_empty() || !last_space {
                    return Err(self.error("unexpected end of file, expecting \";\" or \"}\""));
                }
                return Ok(Token::Eof { line: self.line });
            };
            self.pos += 1;
            if ch == b'\n' {
                self.line += 1;
                sharp_comment = false;
            }
            if sharp_comment {
                continue;
            }
            if quoted {
                quoted = false;
                continue;
            }
            if need_space {
                if is_space(ch) {
                    last_space = true;
                    need_space = false;
                    continue;
                }
                let line = first_line.unwrap_or(self.line);
                match ch {
                    b';' => {
                        return Ok(Token::Directive {
                            words,
                            line,
                            block: false,
                        })
                    }
                    b'{' => {
                        return Ok(Token::Directive {
                            words,
                            line,
                            block: true,
                        })
                    }
                    b')' => {
                        last_space = true;
                        need_space = false;
                    }
                    _ => return Err(self.error(format!("unexpected \"{}\"", ch as char))),
                }
            }
            if last_space {
                start = self.pos - 1;
                if is_space(ch) {
                    continue;
                }
                let line = *first_line.get_or_insert(self.line);
                match ch {
                    b';' | b'{' => {
                        if words.is_empty() {
                            return Err(self.error(format!("unexpected \"{}\"", ch as char)));
                        }
                        return Ok(Token::Directive {
                            words,
                            line,
                            block: ch == b'{',
                        });
                    }
                    b'}' => {
                        if !words.is_empty() {
                            return Err(self.error("unexpected \"}\""));
                        }
                        return Ok(Token::BlockEnd { line: self.line });
                    }
                    b'#' => {
                        sharp_comment = true;
                        if words.is_empty() {
                            first_line = None;
                        }
                        continue;
                    }
                    b'\\' => {
                        quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'"' => {
                        start += 1;
                        d_quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'\'' => {
                        start += 1;
                        s_quoted = true;
                        last_space = false;
                        continue;
                    }
                    b'$' => {
                        variable = true;
                        last_space = false;
                        continue;
                    }
                    _ => last_space = false,
                }
            } else {
                if ch == b'{' && variable {
                    continue;
                }
                variable = false;
                if ch == b'\\' {
                    quoted = true;
                    continue;
                }
                if ch == b'$' {
                    variable = true;
                    continue;
                }
                let mut found = false;
                if d_quoted {
                    if ch == b'"' {
                        d_quoted = false;
                        need_space = true;
                        found = true;
                    }
                } else if s_quoted {
                    if ch == b'\'' {
                        s_quoted = false;
                        need_space = true;
                        found = true;
                    }
                } else if is_space(ch) || ch == b';' || ch == b'{' {
                    last_space = true;
                    found = true;
                }
                if found {
                    // `start` is at most the position of `ch`, the byte just read.
                    let word = self.src.get(start..self.pos - 1).unwrap_or_default();
                    words.push(unescape(word));
                    let line = first_line.unwrap_or(self.line);
                    match ch {
                        b';' => {
                            return Ok(Token::Directive {
                                words,
                                line,
                                block: false,
                            })
                        }
                        b'{' => {
                            return Ok(Token::Directive {
                                words,
                                line,
                                block: true,
                            })
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// The word as nginx stores it: `\"`, `\'`, `\\` lose the backslash; `\t`, `\r`, `\n` become
/// control characters; any other `\x` is kept as both bytes.
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let [b, after @ ..] = rest {
        let (byte, after) = match (b, after) {
            (b'\\', [c @ (b'"' | b'\'' | b'\\'), after @ ..]) => (*c, after),
            (b'\\', [b't', after @ ..]) => (b'\t', after),
            (b'\\', [b'r', after @ ..]) => (b'\r', after),
            (b'\\', [b'n', after @ ..]) => (b'\n', after),
            _ => (*b, after),
        };
        out.push(byte);
        rest = after;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Result<Vec<Token>, TokenError> {
        let mut t = Tokenizer::new(text);
        let mut out = Vec::new();
        loop {
            let tok = t.next_token()?;
            let eof = matches!(tok, Token::Eof { .. });
            out.push(tok);
            if eof {
                return Ok(out);
            }
        }
    }

    fn words(text: &str) -> Vec<String> {
        match all(text).unwrap().remove(0) {
            Token::Directive { words, .. } => words,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quoting_and_escapes_follow_nginx() {
        assert_eq!(
            words(r#"rewrite "^a{12}$" /x?f=\$1\$2;"#),
            ["rewrite", "^a{12}$", r"/x?f=\$1\$2"]
        );
        assert_eq!(
            words(r#"a 'b c' "d\"e" f\;g;"#),
            ["a", "b c", "d\"e", r"f\;g"]
        );
        assert_eq!(words(r"a \t x#y;"), ["a", "\t", "x#y"]);
        assert_eq!(words("a ${x}y;"), ["a", "${x}y"]);
    }

    #[test]
    fn comments_blocks_and_lines() {
        let toks =
            all("# c\nrewrite a b; # tail\n\nlocation / {\n  rewrite c d last;\n}\n").unwrap();
        assert_eq!(
            toks,
            [
                Token::Directive {
                    words: vec!["rewrite".into(), "a".into(), "b".into()],
                    line: 2,
                    block: false
                },
                Token::Directive {
                    words: vec!["location".into(), "/".into()],
                    line: 4,
                    block: true
                },
                Token::Directive {
                    words: vec!["rewrite".into(), "c".into(), "d".into(), "last".into()],
                    line: 5,
                    block: false
                },
                Token::BlockEnd { line: 6 },
                Token::Eof { line: 7 },
            ]
        );
    }

    #[test]
    fn an_unquoted_brace_opens_a_block() {
        let toks = all("rewrite ^/([0-9]{12})$ /x;").unwrap();
        assert!(
            matches!(&toks[0], Token::Directive { block: true, words, .. } if words[1] == "^/([0-9]")
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(all("rewrite a b").unwrap_err().line, 1);
        assert!(all("rewrite \"a\"b c;").is_err());
        assert!(all(";").is_err());
        assert!(all("a }").is_err());
        assert_eq!(
            all("rewrite \"a\nb").unwrap_err().reason,
            "unexpected end of file, expecting \";\" or \"}\""
        );
    }
}
