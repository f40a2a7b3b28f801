/**
 * The provider API of the Secrets Store CSI driver (package v1alpha1) as a protobufjs JSON
 * descriptor: the same schema as ./v1alpha1.proto (test/unit/csi-proto.test.ts checks that they
 * agree), in a form @grpc/proto-loader turns into a service definition without reading a file or
 * parsing .proto text at run time. Field names are kept as written in the proto (keepCase).
 */
const str = (id: number) => ({ type: 'string', id });

export const CSI_PROVIDER_DESCRIPTOR = {
  nested: {
    v1alpha1: {
      nested: {
        CSIDriverProvider: {
          methods: {
            Version: { requestType: 'VersionRequest', responseType: 'VersionResponse' },
            Mount: { requestType: 'MountRequest', responseType: 'MountResponse' },
          },
        },
        VersionRequest: { fields: { version: str(1) } },
        VersionResponse: { fields: { version: str(1), runtime_name: str(2), runtime_version: str(3) } },
        MountRequest: {
          fields: {
            attributes: str(1),
            secrets: str(2),
            target_path: str(3),
            permission: str(4),
            current_object_version: { rule: 'repeated', type: 'ObjectVersion', id: 5 },
          },
        },
        MountResponse: {
          fields: {
            object_version: { rule: 'repeated', type: 'ObjectVersion', id: 1 },
            error: { type: 'Error', id: 2 },
            files: { rule: 'repeated', type: 'File', id: 3 },
          },
        },
        File: { fields: { path: str(1), mode: { type: 'int32', id: 2 }, contents: { type: 'bytes', id: 3 } } },
        ObjectVersion: { fields: { id: str(1), version: str(2) } },
        Error: { fields: { code: str(1) } },
      },
    },
  },
} as const;

/** Service path prefix on the wire: /v1alpha1.CSIDriverProvider/<Method>. */
export const CSI_SERVICE = 'v1alpha1.CSIDriverProvider';

export interface ObjectVersion {
  id: string;
  version: string;
}
export interface MountRequest {
  attributes: string;
  secrets: string;
  target_path: string;
  permission: string;
  current_object_version: ObjectVersion[];
}
export interface MountFile {
  path: string;
  mode: number;
  contents: Buffer;
}
export interface MountResponse {
  object_version: ObjectVersion[];
  error?: { code: string } | undefined;
  files: MountFile[];
}
export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
}
