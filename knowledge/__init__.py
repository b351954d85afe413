"""Knowledge base of the COA case-guidance assistant: protocols,
organisations and sources as reviewed YAML, validated on load.

Standard library + PyYAML only: imported by both the Rasa action server
(Python 3.10) and the API (Python 3.11+).
"""

from .graph import PathStep, iter_paths, main_path, path_key_positions, path_referrals
from .loader import (
    KEY_POSITION_LABELS,
    KEY_POSITIONS,
    NLU_SUFFIX,
    PACKAGE_DIR,
    load_key_positions,
    load_knowledge,
    load_locations,
    load_organisations,
    load_protocol_file,
    load_reference_file,
    load_sources,
)
from .model import (
    QUESTION_KINDS,
    STEP_KINDS,
    Definition,
    FollowUp,
    KeyPosition,
    Knowledge,
    KnowledgeError,
    Location,
    NumberRange,
    Option,
    Organisation,
    Protocol,
    Reference,
    ReferenceItem,
    Source,
    Step,
)

__all__ = [
    "KEY_POSITIONS",
    "KEY_POSITION_LABELS",
    "NLU_SUFFIX",
    "PACKAGE_DIR",
    "QUESTION_KINDS",
    "STEP_KINDS",
    "Definition",
    "FollowUp",
    "KeyPosition",
    "Knowledge",
    "KnowledgeError",
    "Location",
    "NumberRange",
    "Option",
    "Organisation",
    "PathStep",
    "Protocol",
    "Reference",
    "ReferenceItem",
    "Source",
    "Step",
    "iter_paths",
    "load_key_positions",
    "load_knowledge",
    "load_locations",
    "load_organisations",
    "load_protocol_file",
    "load_reference_file",
    "load_sources",
    "main_path",
    "path_key_positions",
    "path_referrals",
]
