"""Models from code: the class that serves ``ctr_lightgbm`` (see jobs/model_code/__init__.py)."""

from mlflow.models import set_model

from jobs.avazu_ctr.serving import CtrModel

set_model(CtrModel())
