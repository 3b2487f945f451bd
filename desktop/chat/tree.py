"""`ConversationTree`: a conversation's messages as a tree of branches, and the path shown.

Messages link to their parent (`parent_id`): a regenerated reply is a sibling of the old
one, an edited-and-resent user message a sibling of the original. The window shows one path
from a root to a leaf; this class finds paths, siblings and the newest leaf below a message.
Pure Python over the dicts `History.messages` returns; no Qt, no SQL.
"""
from __future__ import annotations


class ConversationTree:
    def __init__(self, messages: list[dict] | None = None):
        self.by_id: dict[int, dict] = {}
        self.children: dict[int | None, list[int]] = {}
        for message in sorted(messages or [], key=lambda m: m["id"]):
            self.by_id[message["id"]] = message
            self.children.setdefault(message.get("parent_id"), []).append(message["id"])

    def __len__(self) -> int:
        return len(self.by_id)

    def newest_leaf(self) -> int | None:
        """The leaf of the branch written last (where the user left off)."""
        return self.leaf_below(max(self.by_id)) if self.by_id else None

    def leaf_below(self, message_id: int) -> int:
        """Follow the newest child down from message_id to a leaf."""
        while self.children.get(message_id):
            message_id = self.children[message_id][-1]
        return message_id

    def path_to(self, leaf_id: int | None) -> list[dict]:
        """Messages from the root to leaf_id, oldest first."""
        path = []
        while leaf_id is not None:
            message = self.by_id[leaf_id]
            path.append(message)
            leaf_id = message.get("parent_id")
        return path[::-1]

    def siblings(self, message_id: int) -> list[int]:
        """Ids of the messages sharing message_id's parent (itself included), oldest first."""
        return self.children.get(self.by_id[message_id].get("parent_id"), [])
