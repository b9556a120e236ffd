"""The fork window of one app as a Mermaid flowchart, from the report JSON.

Only what the merge is about: the common ancestor, each branch since it
(at most :data:`MAX_NODES` nodes, then "... k more"), and the planned
resolution drawn dashed: the merge migration depending on every leaf, or
the renumbered branch placed after the leaf that stays.  Every label is
escaped: names come from the pull request.
"""
from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

MAX_NODES = 8
_ENTITIES = (('#', '#35;'), ('"', '#quot;'), ('<', '#lt;'), ('>', '#gt;'))


def label(text: str) -> str:
    """``text`` as a quoted Mermaid label (entity codes, one line)."""
    for char, code in _ENTITIES:
        text = text.replace(char, code)
    return '"' + ' '.join(text.split()) + '"'


def shown(names: Sequence[str]) -> list[str | int]:
    """The names drawn for a branch: all when few, else the first half,
    the number left out, and the last ones (the leaf is always drawn)."""
    if len(names) <= MAX_NODES:
        return list(names)
    head = (MAX_NODES - 1) // 2 + 1  # 4 of 8
    tail = MAX_NODES - 1 - head  # 3 of 8
    return [*names[:head], len(names) - head - tail, *names[-tail:]]


def render_window(window: Mapping[str, Any]) -> str:
    """One ``GraphWindow`` (as JSON) as a flowchart."""
    lines = ['flowchart TD']
    renames = {
        str(old): str(new) for old, new in window.get('renames') or ()
    }
    ancestor = window.get('ancestor')
    root = 'a'
    lines.append(
        f'  {root}[{label(ancestor if ancestor else "(no common ancestor)")}]',
    )
    lines.append(f'  class {root} ancestor')
    leaf_ids: dict[str, str] = {}
    staying: str | None = None
    for i, branch in enumerate(window.get('branches') or ()):
        side = str(branch.get('side') or 'both')
        previous = root
        first = True
        for j, item in enumerate(shown(list(branch.get('migrations') or ()))):
            node = f'b{i}_{j}'
            if isinstance(item, int):
                lines.append(f'  {node}[{label(f"... {item} more")}]')
                lines.append(f'  class {node} more')
            else:
                lines.append(f'  {node}[{label(item)}]')
                lines.append(f'  class {node} {side}')
            arrow = f'-->|{side}|' if first else '-->'
            lines.append(f'  {previous} {arrow} {node}')
            previous, first = node, False
        leaf = str(branch.get('leaf'))
        leaf_ids[leaf] = previous
        if renames and leaf not in renames:
            staying = leaf
    planned = window.get('planned')
    if not planned and len(leaf_ids) > 1:
        # Nothing planned: the leaves stay apart (a flag, a refusal).
        for node in leaf_ids.values():
            lines.append(f'  class {node} blocked')
    if planned == 'merge' and window.get('planned_name'):
        lines.append(f'  m[{label(str(window["planned_name"]))}]')
        for node in leaf_ids.values():
            lines.append(f'  {node} -.-> m')
        lines.append('  class m planned')
    elif planned == 'renumber' and staying is not None:
        previous = leaf_ids[staying]
        moved = [f'{new} (was {old})' for old, new in renames.items()]
        for k, item in enumerate(shown(moved)):
            node = f'r{k}'
            if isinstance(item, int):
                lines.append(f'  {node}[{label(f"... {item} more")}]')
                lines.append(f'  class {node} more')
            else:
                lines.append(f'  {node}[{label(item)}]')
                lines.append(f'  class {node} planned')
            lines.append(f'  {previous} -.-> {node}')
            previous = node
    lines += [
        '  classDef ancestor fill:#ede9fe,stroke:#6d28d9',
        '  classDef head fill:#dbeafe,stroke:#1d4ed8',
        '  classDef base fill:#f3f4f6,stroke:#4b5563',
        '  classDef both fill:#fef3c7,stroke:#b45309',
        '  classDef more fill:#ffffff,stroke:#9ca3af,color:#6b7280',
        '  classDef planned fill:#dcfce7,stroke:#15803d,stroke-dasharray: 5 5',
        '  classDef blocked stroke:#b91c1c,stroke-width:3px',
    ]
    return '\n'.join(lines) + '\n'
