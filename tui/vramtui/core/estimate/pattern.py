"""The `-ot` pattern language, matched in time linear in the tensor name.

A user's pattern (`-ot`, a shared preset's `override_tensor`) is never handed to Python's
backtracking `re`: `(.|.)*Z` would run for ever (and hold the GIL, freezing the app). Instead
the pattern is parsed here, which also checks its syntax, into a Thompson automaton that is
run as a lazily built DFA: each character of a name costs one cached step (or, on a cache
miss, work bounded by the automaton's size), whatever the pattern.

The syntax is the part of std::regex's ECMAScript grammar that llama.cpp users write:
literals, `\\.` and other escaped punctuation, `\\d \\D \\w \\W \\s \\S` (ASCII, as ECMAScript),
`.`, classes `[a-z0-9_]` / `[^.]`, groups `(...)` and `(?:...)`, alternation, `*` `+` `?`
(also lazy, `*?`: the same for "does it match"), counts `{m}` `{m,}` `{m,n}` up to
MAX_COUNT, and the anchors `^` `$`. Anything else (backreferences, lookaround, `\\b`) is
refused with PatternError naming what.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MAX_PATTERN = 256  # characters; llama.cpp's own expert regexes are under 60
MAX_COUNT = 16  # the largest {m,n} bound
MAX_DEPTH = 8  # nested groups
MAX_STATES = 2048  # automaton states a pattern may expand to
_MAX_CACHE = 4096  # DFA steps kept per pattern (cleared when full: still linear)

_BOS, _EOS = -1, -2  # the virtual symbols around a name that `^` and `$` match
_DIGITS = frozenset("0123456789")
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SPACE = frozenset(" \t\n\r\f\v")
_CLASSES = {"d": _DIGITS, "w": _WORD, "s": _SPACE}

Pred = Callable[[str], bool]


class PatternError(ValueError):
    """A pattern outside the supported syntax; the message says what."""


@dataclass(slots=True)
class _Nfa:
    """States: `preds[i]` is the symbol test of a consuming state (None: an epsilon state whose
    successors are `eps[i]`); `nxt[i]` is the state after a consuming one."""

    preds: list[Pred | int | None] = field(default_factory=list)
    nxt: list[int] = field(default_factory=list)
    eps: list[list[int]] = field(default_factory=list)

    def state(self, pred: Pred | int | None = None) -> int:
        if len(self.preds) >= MAX_STATES:
            raise PatternError("too complex (expands to too many states)")
        self.preds.append(pred)
        self.nxt.append(-1)
        self.eps.append([])
        return len(self.preds) - 1


# A fragment is (start state, list of dangling exits) built by the parser; an exit is either
# ("n", state) for a consuming state's `nxt` or ("e", state) for an epsilon edge to add.
_Frag = tuple[int, list[tuple[str, int]]]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.nfa = _Nfa()
        self.depth = 0

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def take(self) -> str:
        ch = self.peek()
        self.at += 1
        return ch

    def patch(self, exits: list[tuple[str, int]], target: int) -> None:
        for kind, s in exits:
            if kind == "n":
                self.nfa.nxt[s] = target
            else:
                self.nfa.eps[s].append(target)

    def alternation(self) -> _Frag:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.take()
            branches.append(self.sequence())
        if len(branches) == 1:
            return branches[0]
        split = self.nfa.state()
        exits: list[tuple[str, int]] = []
        for start, out in branches:
            self.nfa.eps[split].append(start)
            exits += out
        return split, exits

    def sequence(self) -> _Frag:
        first = self.nfa.state()  # an empty sequence matches the empty string
        frag: _Frag = (first, [("e", first)])
        while self.peek() not in ("", "|", ")"):
            start, out = self.quantified()
            self.patch(frag[1], start)
            frag = (frag[0], out)
        return frag

    def quantified(self) -> _Frag:
        begin = self.at
        atom = self.atom()
        ch = self.peek()
        if ch not in ("*", "+", "?", "{"):
            return atom(self)
        if self.text[begin] in "^$":
            raise PatternError(f"a quantifier after the anchor {self.text[begin]!r}")
        low, high = self.bounds()
        if self.peek() == "?":
            self.take()  # lazy: the same answer to "does it match"
        if self.peek() in ("*", "+", "?", "{"):
            raise PatternError(f"a quantifier after a quantifier at {self.at}")
        return self.repeat(atom, low, high)

    def bounds(self) -> tuple[int, int | None]:
        ch = self.take()
        if ch != "{":
            return {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        end = self.text.find("}", self.at)
        body = self.text[self.at : end] if end >= 0 else ""
        low_s, comma, high_s = body.partition(",")
        if not _ascii_count(low_s) or (high_s and not _ascii_count(high_s)):
            raise PatternError(f"a count {{{body}}} that is not {{m}}, {{m,}} or {{m,n}}")
        self.at = end + 1
        low = int(low_s)
        high = low if not comma else (int(high_s) if high_s else None)
        if low > MAX_COUNT or (high is not None and not low <= high <= MAX_COUNT):
            raise PatternError(f"a count {{{body}}} outside 0..{MAX_COUNT}")
        return low, high

    def repeat(self, atom: Callable[[_Parser], _Frag], low: int, high: int | None) -> _Frag:
        """`low` copies, then either a loop (no upper bound) or `high - low` optional copies."""
        start = self.nfa.state()
        exits: list[tuple[str, int]] = [("e", start)]
        for _ in range(low):
            s, out = atom(self)
            self.patch(exits, s)
            exits = out
        if high is None:
            loop = self.nfa.state()
            self.patch(exits, loop)
            s, out = atom(self)
            self.nfa.eps[loop].append(s)
            self.patch(out, loop)
            return start, [("e", loop)]
        skips: list[tuple[str, int]] = []
        for _ in range(high - low):
            gate = self.nfa.state()
            self.patch(exits, gate)
            s, out = atom(self)
            self.nfa.eps[gate].append(s)
            skips.append(("e", gate))
            exits = out
        return start, exits + skips

    def atom(self) -> Callable[[_Parser], _Frag]:
        """The next atom as a builder (a quantifier may need several copies of it)."""
        ch = self.take()
        if ch == "(":
            return self.group()
        if ch in ("*", "+", "?", "{"):
            raise PatternError(f"nothing to repeat before {ch!r} at {self.at - 1}")
        if ch == ")":
            raise PatternError(f"an unmatched ')' at {self.at - 1}")
        if ch == "^":
            return _symbol(_BOS)
        if ch == "$":
            return _symbol(_EOS)
        if ch == ".":
            return _symbol(lambda c: c != "\n")
        if ch == "[":
            return _symbol(self.char_class())
        if ch == "\\":
            return _symbol(self.escape())
        return _symbol(ch.__eq__)

    def group(self) -> Callable[[_Parser], _Frag]:
        if self.text.startswith("?:", self.at):
            self.at += 2
        elif self.peek() == "?":
            raise PatternError("only (...) and (?:...) groups (no lookaround or named groups)")
        begin = self.at
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise PatternError(f"groups nested deeper than {MAX_DEPTH}")
        self.alternation()  # checks the syntax once; copies are built from the text below
        self.depth -= 1
        if self.take() != ")":
            raise PatternError("a '(' without its ')'")

        def build(p: _Parser) -> _Frag:
            saved = p.at
            p.at = begin
            frag = p.alternation()
            p.at = saved
            return frag

        return build

    def escape(self) -> Pred:
        ch = self.take()
        if ch.lower() in _CLASSES:
            chars = _CLASSES[ch.lower()]
            return chars.__contains__ if ch.islower() else (lambda c: c not in chars)
        if ch == "t":
            return "\t".__eq__
        if ch == "n":
            return "\n".__eq__
        if ch and ch.isascii() and not ch.isalnum() and ch != "_":
            return ch.__eq__
        raise PatternError(f"the escape \\{ch} is not supported (use \\. \\d \\w \\s)")

    def char_class(self) -> Pred:
        negate = self.peek() == "^"
        if negate:
            self.take()
        preds: list[Pred] = []
        first = True
        while True:
            ch = self.take()
            if ch == "":
                raise PatternError("a '[' without its ']'")
            if ch == "]" and not first:
                break
            first = False
            if ch == "\\":
                preds.append(self.escape())
                continue
            if self.peek() == "-" and self.text[self.at + 1 : self.at + 2] not in ("", "]"):
                self.take()
                hi = self.take()
                if hi == "\\" or hi < ch:
                    raise PatternError(f"a bad range {ch}-{hi} in a class")
                preds.append(_between(ch, hi))
                continue
            preds.append(ch.__eq__)

        def test(c: str) -> bool:
            return any(p(c) for p in preds) != negate

        return test


def _between(low: str, high: str) -> Pred:
    def test(c: str) -> bool:
        return low <= c <= high

    return test


def _ascii_count(text: str) -> bool:
    return 0 < len(text) <= 3 and all(c in _DIGITS for c in text)


def _symbol(pred: Pred | int) -> Callable[[_Parser], _Frag]:
    def build(p: _Parser) -> _Frag:
        s = p.nfa.state(pred)
        return s, [("n", s)]

    return build


class Matcher:
    """A parsed pattern; `search(name)` is True where the pattern matches anywhere in `name`
    (re.search's answer), in time linear in the name."""

    __slots__ = ("_accept", "_cache", "_nfa", "_start", "pattern")

    def __init__(self, pattern: str) -> None:
        if len(pattern) > MAX_PATTERN:
            raise PatternError(f"longer than {MAX_PATTERN} characters")
        parser = _Parser(pattern)
        start, exits = parser.alternation()
        if parser.at < len(pattern):
            raise PatternError(f"an unmatched ')' at {parser.at}")
        self._accept = parser.nfa.state()
        parser.patch(exits, self._accept)
        self._nfa = parser.nfa
        self.pattern = pattern
        self._start = self._closure([start])
        self._cache: dict[tuple[frozenset[int], str | int], frozenset[int]] = {}

    def _closure(self, states: list[int]) -> frozenset[int]:
        seen: set[int] = set()
        stack = list(states)
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            if self._nfa.preds[s] is None:
                stack += self._nfa.eps[s]
        return frozenset(seen)

    def _step(self, current: frozenset[int], symbol: str | int) -> frozenset[int]:
        key = (current, symbol)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        moved = []
        for s in current:
            pred = self._nfa.preds[s]
            if pred is None:
                continue
            if (
                pred == symbol
                if isinstance(pred, int)
                else (isinstance(symbol, str) and pred(symbol))
            ):
                moved.append(self._nfa.nxt[s])
        after = self._closure(moved) | self._start  # a search may start at any position
        if len(self._cache) >= _MAX_CACHE:
            self._cache.clear()
        self._cache[key] = after
        return after

    def search(self, name: str) -> bool:
        current = self._start
        for symbol in (_BOS, *name, _EOS):
            if self._accept in current:
                return True
            current = self._step(current, symbol)
        return self._accept in current
