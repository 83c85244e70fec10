"""Study files: schema (validated config) and loading (TOML, overrides, sweep grid)."""

from mcaann.study.load import (
    StudyError,
    builtin_studies,
    load_study,
    study_to_toml,
)
from mcaann.study.schema import Study

__all__ = ["Study", "StudyError", "builtin_studies", "load_study", "study_to_toml"]
