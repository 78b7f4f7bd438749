"""Networks: the dilated ResNet backbone, the embedding head, position/query tables, the clustering
transformer, and the converter between the original HSG checkpoint names and ours."""

from hsg.models.convert import from_original, load_as_ours, to_original
from hsg.models.head import embedding_head
from hsg.models.position import PositionEmbedding, QueryEmbedding, location_features
from hsg.models.resnet import ResNet
from hsg.models.transformer import ClusteringOutput, TransformerClustering

__all__ = ["ResNet", "embedding_head", "PositionEmbedding", "QueryEmbedding", "location_features",
           "TransformerClustering", "ClusteringOutput", "from_original", "to_original",
           "load_as_ours"]
