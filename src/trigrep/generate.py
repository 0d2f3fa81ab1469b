"""`--generate KIND`: trigrep's man page and its shells' completion scripts.

All are made from the argparse parsers that read trigrep's command lines (`trigrep.flags`),
with the names, values and help texts `-h` prints, so they cannot drift from the flags. What
a value completes to follows from the parser too: a converter's choices (`--sort`), or the
name of the value (`PATH`: files, `COMMAND`: programs, `TYPE`: the types `--type-list` prints,
asked at completion time so that a config file's `--type-add` counts).

Loaded only when --generate is given: a search never imports it.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable
from typing import NamedTuple

from trigrep import __version__, flags
from trigrep.cli import SUBCOMMANDS

# What the value of a flag named so completes to.
_COMPLETES = {"PATH": "files", "PATTERNFILE": "files", "COMMAND": "commands", "TYPE": "types"}


class Flag(NamedTuple):
    names: tuple[str, ...]  # as -h lists them: "-e", "--regexp"
    value: str | None  # the value's name as -h shows it; None: a switch
    help: str
    choices: tuple[str, ...]  # the values to offer
    completes: str  # "files", "commands", "types" or "" (nothing to offer)

    @property
    def longs(self) -> list[str]:
        return [n for n in self.names if n.startswith("--")]


class Command(NamedTuple):
    name: str  # "search" or a subcommand
    description: str
    usage: list[str]  # the synopsis' lines
    groups: list[tuple[str, list[Flag]]]  # as -h groups the flags: (title, flags)

    @property
    def flags(self) -> list[Flag]:
        return [flag for _, group in self.groups for flag in group]


def commands() -> list[Command]:
    """trigrep's commands: the search (also `trigrep search`), then the other subcommands."""
    search = flags.search_parser()
    assert search.usage is not None
    found = [_command("search", search, search.usage.splitlines())]
    for name in SUBCOMMANDS:
        if name != "search":
            parser = flags.subcommand_parser(name)
            found.append(_command(name, parser, [parser.format_usage().removeprefix("usage: ")]))
    return found


def _command(name: str, parser: argparse.ArgumentParser, usage: list[str]) -> Command:
    formatter = parser._get_formatter()  # (-h's: the same names of values, the same help)
    groups = []
    for group in parser._action_groups:
        found = [_flag(formatter, action) for action in group._group_actions
                 if action.option_strings and action.help is not argparse.SUPPRESS]
        if found:
            groups.append((group.title or "", found))
    names = {n for _, found in groups for flag in found for n in flag.names}
    groups = [(title, [_described(flag, names) for flag in found]) for title, found in groups]
    return Command(name, parser.description or "", [line.strip() for line in usage], groups)


def _described(flag: Flag, names: set[str]) -> Flag:
    """`flag`, described as the opposite of the flag it negates (-h leaves --no-X and --X
    bare when the other is described)."""
    if flag.help:
        return flag
    for long in flag.longs:
        opposite = "--" + long[5:] if long.startswith("--no-") else "--no-" + long[2:]
        if opposite in names:
            return flag._replace(help=f"the opposite of {opposite}")
    return flag


def _flag(formatter: argparse.HelpFormatter, action: argparse.Action) -> Flag:
    value = None
    if action.nargs != 0:
        value = formatter._format_args(action, action.dest.upper())
    choices = tuple(action.choices or getattr(action.type, "choices", ()))
    help_text = formatter._expand_help(action) if action.help else ""
    completes = _COMPLETES.get(action.metavar, "") if isinstance(action.metavar, str) else ""
    return Flag(tuple(action.option_strings), value, help_text, choices, completes)


def generated(kind: str) -> str:
    """The text `--generate KIND` prints (KIND one of flags.GENERATE_KINDS)."""
    make: dict[str, Callable[[list[Command]], str]] = {
        "man": man, "complete-bash": bash, "complete-zsh": zsh, "complete-fish": fish,
        "complete-powershell": powershell,
    }
    return make[kind](commands())


# --- man ----------------------------------------------------------------------------------

def _roff(text: str, code: bool = False) -> str:
    """`text` as roff prints it: backslashes escaped, and in `code` (flags, commands) every
    hyphen a minus sign, so that it can be copied and searched for."""
    text = text.replace("\\", "\\e")
    return text.replace("-", "\\-") if code else text


def _roff_line(text: str) -> str:
    """A line of text that roff takes for text even when it starts with `.` or `'`."""
    return "\\&" + text if text[:1] in (".", "'") else text


def _man_flag(flag: Flag) -> list[str]:
    names = ", ".join(f"\\fB{_roff(n, True)}\\fR" for n in flag.names)
    if flag.value is not None:
        separator = "=" if flag.longs else " "
        names += f"{separator}\\fI{_roff(flag.value, True)}\\fR"
    return [".TP", names, *([_roff_line(_roff(flag.help))] if flag.help else [])]


def _man_flags(command: Command) -> list[str]:
    lines = []
    for title, group in command.groups:
        if command.name == "search" and title != "options":  # (argparse's first group)
            lines.append(f'.SS "{_roff(title).upper()}"')
        for flag in group:
            lines += _man_flag(flag)
    return lines


def man(cmds: list[Command]) -> str:
    """The man page (roff, for man(1)): synopsis, options by -h's groups, the subcommands
    with theirs, -h's examples and notes."""
    search, *others = cmds
    examples, _, notes = flags.EXAMPLES.partition("\n\n")
    lines = [
        f'.TH TRIGREP 1 "" "trigrep {__version__}" "User Commands"',
        ".SH NAME",
        f"trigrep \\- {_roff(search.description[:1].lower() + search.description[1:-1])}",
        ".SH SYNOPSIS",
        ".nf",
        *(f"\\fB{_roff(line, True)}\\fR" for line in search.usage),
        ".fi",
        ".SH DESCRIPTION",
        "\n.PP\n".join(_roff_line(_roff(" ".join(paragraph.split())))
                       for paragraph in [search.description, *notes.split("\n\n")]),
        ".SH OPTIONS",
        *_man_flags(search),
        ".SH COMMANDS",
    ]
    for command in others:
        lines += [f".SS \"trigrep {command.name}\"", ".nf",
                  f"\\fB{_roff(command.usage[0], True)}\\fR", ".fi", ".PP",
                  _roff_line(_roff(command.description)), *_man_flags(command)]
    lines += [".SH EXAMPLES"]
    for line in examples.splitlines()[1:]:  # (after the "examples:" heading)
        example, _, text = line.strip().partition("  ")
        lines += [".TP", f"\\fB{_roff(example, True)}\\fR", _roff_line(_roff(text.strip()))]
    lines += [
        ".SH EXIT STATUS",
        "As rg's: 0 when something matched, 1 when nothing did, 2 after an error.",
        ".SH SEE ALSO",
        ".BR rg (1)",
    ]
    return "\n".join(lines) + "\n"


# --- bash ---------------------------------------------------------------------------------

def _bash_value(flag: Flag, prog: str) -> str:
    """The bash commands completing the value of `flag`."""
    if flag.choices:
        return f"COMPREPLY=($(compgen -W {shlex.quote(' '.join(flag.choices))} -- \"$cur\"))"
    return {
        "files": 'COMPREPLY=($(compgen -f -- "$cur"))',
        "commands": 'COMPREPLY=($(compgen -c -- "$cur"))',
        "types": f'COMPREPLY=($(compgen -W "$(_{prog}_types)" -- "$cur"))',
    }.get(flag.completes, ":")  # (nothing: bash's default completion)


def _bash_command(command: Command, prog: str) -> list[str]:
    values = [f"                {'|'.join(map(shlex.quote, flag.names))}) "
              f"{_bash_value(flag, prog)}; return 0 ;;"
              for flag in command.flags if flag.value is not None]
    opts = " ".join(n for flag in command.flags for n in flag.names)
    return [f"        {shlex.quote(command.name)})",
            *(['            case "$prev" in', *values, "            esac"] if values else []),
            f"            opts={shlex.quote(opts)}", "            ;;"]


def bash(cmds: list[Command]) -> str:
    """A bash completion script: `source` it, or put it in bash-completion's directory."""
    prog = "trigrep"
    names = [c.name for c in cmds]
    others = "|".join(shlex.quote(n) for n in names if n != "search")
    lines = [
        f"# bash completion for {prog} {__version__}: {prog} --generate complete-bash",
        "",
        f"_{prog}_types() {{",
        '    local prog="${COMP_WORDS[0]}"',
        '    "${prog/#\\~/$HOME}" --type-list 2>/dev/null | cut -d: -f1',
        "}",
        "",
        f"_{prog}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd=search opts',
        "    COMPREPLY=()",
        '    (( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    # --flag=VALUE: bash breaks the word at the '='",
        '    if [[ $cur == "=" ]]; then',
        '        cur=""',
        '    elif [[ $prev == "=" ]] && (( COMP_CWORD > 1 )); then',
        '        prev="${COMP_WORDS[COMP_CWORD-2]}"',
        "    fi",
        "    if (( COMP_CWORD > 1 )); then",
        '        case "${COMP_WORDS[1]}" in',
        f'            {others}) cmd="${{COMP_WORDS[1]}}" ;;',
        "        esac",
        "    fi",
        '    case "$cmd" in',
    ]
    for command in cmds:
        lines += _bash_command(command, prog)
    lines += [
        "    esac",
        '    if [[ $cur == -* ]]; then',
        '        COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
        "    elif (( COMP_CWORD == 1 )); then",
        f'        COMPREPLY=($(compgen -W {shlex.quote(" ".join(names))} -- "$cur"))',
        "    fi",
        "    return 0",
        "}",
        "",
        f"complete -F _{prog} -o bashdefault -o default {prog}",
    ]
    return "\n".join(lines) + "\n"


# --- zsh ----------------------------------------------------------------------------------

def _zsh_quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_escaped(text: str) -> str:
    """Text inside an _arguments spec's `[...]` or `:message:`."""
    return re.sub(r"([\\\[\]:])", r"\\\1", text)


def _zsh_specs(command: Command) -> list[str]:
    """_arguments' specs: each flag may be repeated (as in rg, the last one given wins)."""
    specs = []
    for flag in command.flags:
        described = f"[{_zsh_escaped(flag.help)}]" if flag.help else ""
        for name in flag.names:
            if flag.value is None:
                specs.append(f"*{name}{described}")
                continue
            if flag.choices:
                action = "(" + " ".join(flag.choices) + ")"
            else:
                action = {"files": "_files", "commands": "_command_names -e",
                          "types": "_trigrep_types"}.get(flag.completes, " ")
            attached = "=" if name.startswith("--") else "+"
            specs.append(f"*{name}{attached}{described}:{_zsh_escaped(flag.value)}:{action}")
    return [_zsh_quoted(spec) for spec in specs]


def zsh(cmds: list[Command]) -> str:
    """A zsh completion function: save it as `_trigrep` in a directory of $fpath."""
    search, *others = cmds
    described = [_zsh_quoted(f"{c.name}:{_zsh_escaped(c.description)}") for c in cmds]
    lines = [
        "#compdef trigrep",
        f"# zsh completion for trigrep {__version__}: trigrep --generate complete-zsh",
        "",
        "_trigrep_types() {",
        "  local -a types",
        '  types=( ${(f)"$(_call_program types $_trigrep_cmd --type-list 2>/dev/null)"} )',
        '  compadd "$@" - ${types%%:*}',
        "}",
        "",
        "_trigrep() {",
        "  local _trigrep_cmd=$words[1] ret=1",
        "  local -a search_args commands",
        "  commands=(",
        *(f"    {line}" for line in described),
        "  )",
        "  search_args=(",
        *(f"    {spec}" for spec in _zsh_specs(search)),
        "    '*:PATTERN/PATH:_files'",
        "  )",
        "  if (( CURRENT > 2 )); then",
        "    case $words[2] in",
    ]
    for command in [search, *others]:
        specs = (['"${search_args[@]}"'] if command is search
                 else [*_zsh_specs(command), "'*:PATH:_files'"])
        lines += [
            f"      ({command.name})",
            "        shift words; (( CURRENT-- ))",
            f"        _arguments -s -S : {' '.join(specs)} && ret=0",
            "        return ret ;;",
        ]
    lines += [
        "    esac",
        "  fi",
        "  if (( CURRENT == 2 )) && [[ $PREFIX != -* ]]; then",
        "    _describe -t commands 'trigrep command' commands && ret=0",
        "  fi",
        '  _arguments -s -S : "${search_args[@]}" && ret=0',
        "  return ret",
        "}",
        "",
        '_trigrep "$@"',
    ]
    return "\n".join(lines) + "\n"


# --- fish ---------------------------------------------------------------------------------

def _fish_quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_flag(flag: Flag, command: str) -> str:
    parts = ["complete -c trigrep -n", _fish_quoted(f"__trigrep_using {command}")]
    for name in flag.names:
        parts += ["-l", name[2:]] if name.startswith("--") else ["-s", name[1:]]
    if flag.help:
        parts += ["-d", _fish_quoted(flag.help)]
    if flag.value is not None:
        parts.append("-r")
        if flag.choices:
            parts += ["-f", "-a", _fish_quoted(" ".join(flag.choices))]
        else:
            parts += {"files": ["-F"], "commands": ["-f", "-a", "'(__fish_complete_command)'"],
                      "types": ["-f", "-a", "'(__trigrep_types)'"]}.get(flag.completes, ["-f"])
    return " ".join(parts)


def fish(cmds: list[Command]) -> str:
    """A fish completion script: save it as ~/.config/fish/completions/trigrep.fish."""
    names = " ".join(c.name for c in cmds if c.name != "search")
    lines = [
        f"# fish completion for trigrep {__version__}: trigrep --generate complete-fish",
        "",
        "function __trigrep_using --description 'whether the command line is trigrep $argv[1]'",
        "    set -l words (commandline -opc)",
        f"    if set -q words[2]; and contains -- $words[2] {names}",
        "        test $words[2] = $argv[1]",
        "    else",
        "        test search = $argv[1]",
        "    end",
        "end",
        "",
        "function __trigrep_first --description 'whether the first argument is completed'",
        "    test (count (commandline -opc)) -eq 1",
        "end",
        "",
        "function __trigrep_types --description 'the file types trigrep knows'",
        "    set -l words (commandline -opc)",
        "    $words[1] --type-list 2>/dev/null | string replace -r ':\\s*' \\t",
        "end",
        "",
    ]
    for c in cmds:
        lines.append("complete -c trigrep -n __trigrep_first -a "
                     f"{_fish_quoted(c.name)} -d {_fish_quoted(c.description)}")
    for c in cmds:
        lines += [_fish_flag(flag, c.name) for flag in c.flags]
    return "\n".join(lines) + "\n"


# --- PowerShell ---------------------------------------------------------------------------

def _ps_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ps_result(text: str, kind: str, tip: str) -> str:
    # (a CompletionResult's tooltip must not be empty)
    return (f"[CompletionResult]::new({_ps_quoted(text)}, {_ps_quoted(text)}, "
            f"[CompletionResultType]::{kind}, {_ps_quoted(tip or text)})")


def powershell(cmds: list[Command]) -> str:
    """A PowerShell argument completer: dot-source it, e.g. from $PROFILE."""
    names = ", ".join(_ps_quoted(c.name) for c in cmds if c.name != "search")
    lines = [
        f"# PowerShell completion for trigrep {__version__}: trigrep --generate "
        "complete-powershell",
        "",
        "using namespace System.Management.Automation",
        "",
        "Register-ArgumentCompleter -Native -CommandName 'trigrep' -ScriptBlock {",
        "    param($wordToComplete, $commandAst, $cursorPosition)",
        "    $elements = $commandAst.CommandElements",
        "    $first = $elements.Count -eq 1 -or ($elements.Count -eq 2 -and $wordToComplete)",
        "    $command = 'search'",
        f"    if (-not $first -and @({names}) -contains $elements[1].ToString()) {{",
        "        $command = $elements[1].ToString()",
        "    }",
        "    $completions = @(switch ($command) {",
    ]
    for c in cmds:
        lines.append(f"        {_ps_quoted(c.name)} {{")
        lines += [f"            {_ps_result(name, 'ParameterName', flag.help)}"
                  for flag in c.flags for name in flag.names]
        lines.append("        }")
    lines += [
        "    })",
        "    if ($first) {",
        *(f"        $completions += {_ps_result(c.name, 'ParameterValue', c.description)}"
          for c in cmds),
        "    }",
        "    $completions.Where{ $_.CompletionText -like \"$wordToComplete*\" } |",
        "        Sort-Object -Property ListItemText",
        "}",
    ]
    return "\n".join(lines) + "\n"
