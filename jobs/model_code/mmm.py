"""Models from code: the class that serves ``mmm`` (see jobs/model_code/__init__.py)."""

from mlflow.models import set_model

from jobs.mmm.serving import MmmModel

set_model(MmmModel())
