/**
 * Which Temporal a worker's step containers belong to: the server's address, the namespace and
 * its id (two servers behind one address have different ids), the task queue. Labelled on every
 * step container, so a sweep can prove a leftover is its own before removing it.
 */
import type { Client } from '@temporalio/client';
import { clientAddress, type PocConfig } from '../core/config.js';
import type { ContainerOwner } from '../docker/index.js';

/** The owner of this worker's containers, asked of the server once (and again after a failure). */
export function containerOwner(client: Client, config: PocConfig): () => Promise<ContainerOwner> {
  let owner: Promise<ContainerOwner> | undefined;
  return () => {
    owner ??= client.workflowService
      .describeNamespace({ namespace: config.namespace })
      .then((described) => {
        const namespaceId = described.namespaceInfo?.id;
        if (!namespaceId) throw new Error(`namespace ${config.namespace} has no id`);
        return { server: clientAddress(config), namespace: config.namespace, namespaceId, taskQueue: config.taskQueue };
      })
      .catch((err: unknown) => {
        owner = undefined;
        throw err;
      });
    return owner;
  };
}
