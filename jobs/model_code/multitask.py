"""Models from code: the class that serves ``pricing_multitask`` (see jobs/model_code/__init__.py)."""

from mlflow.models import set_model

from jobs.pricing_models.multitask import MultiTaskModel

set_model(MultiTaskModel())
